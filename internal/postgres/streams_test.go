package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/pgtest"
	"github.com/assistloop/assistloop/internal/postgres"
)

// fixture is a database with one user, workspace and agent.
type fixture struct {
	db      *postgres.DB
	user    *assistloop.User
	org     *assistloop.Organization
	agent   *assistloop.Agent
	userCtx context.Context // acts for the user with every scope
	sysCtx  context.Context // acts for the system principal
}

var fixtureSeq int

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := postgres.NewDB(pgtest.Open(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := db.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fixtureSeq++
	u, org, agent, err := postgres.NewUserService(db).CreateUser(ctx, assistloop.CreateUserInput{
		Email: fmt.Sprintf("f%d-%s@example.com", fixtureSeq, assistloop.RandomString(6)), Password: "correct horse battery",
		Name: "Fixture", OrganizationName: "Acme Corporation",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, user: u, org: org, agent: agent,
		userCtx: assistloop.WithPrincipal(ctx, &assistloop.Principal{UserID: u.ID, Scopes: assistloop.AllScopes}),
		sysCtx:  assistloop.NewSystemContext(ctx)}
}

func (f *fixture) startConversation(t *testing.T) *assistloop.Conversation {
	t.Helper()
	c, _, err := postgres.NewConversationService(f.db).StartConversation(f.userCtx, assistloop.StartConversationInput{
		AgentID: f.agent.ID, Content: "Hi, I need help with my order",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func nextEvent(t *testing.T, stream <-chan *assistloop.Event) *assistloop.Event {
	t.Helper()
	select {
	case e := <-stream:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

// TestStreamEventsCommitOrder verifies the foundation's outbox reader: an
// event committed later by a transaction that began earlier is not
// skipped (the stream waits for it), and a rolled-back event never shows.
func TestStreamEventsCommitOrder(t *testing.T) {
	f := newFixture(t)
	// The user's stream: the package's other tests write events of other
	// workspaces.
	ctx, cancel := context.WithCancel(f.userCtx)
	defer cancel()
	stream, err := postgres.NewEventService(f.db).StreamEvents(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	// tx1 writes an event and stays open.
	tx1, err := f.db.Bun().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow := uuid.New()
	if _, err := tx1.ExecContext(ctx, `INSERT INTO events (id, type, organization_id, agent_id, conversation_id, payload)
		VALUES (?, 'new_conversation', ?, ?, ?, '{}')`, slow, f.org.ID, f.agent.ID, uuid.New()); err != nil {
		t.Fatal(err)
	}
	// A later transaction commits first.
	fast := f.startConversation(t)
	select {
	case e := <-stream:
		t.Fatalf("event %s (conversation %s) streamed while an older transaction with an event was open", e.ID, e.ConversationID)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, stream); e.ID != slow {
		t.Fatalf("first event %s, want the older transaction's %s", e.ID, slow)
	}
	if e := nextEvent(t, stream); e.ConversationID != fast.ID {
		t.Fatalf("second event of conversation %s, want %s", e.ConversationID, fast.ID)
	}

	// A rolled-back event is never streamed.
	tx3, err := f.db.Bun().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx3.ExecContext(ctx, `INSERT INTO events (id, type, organization_id, agent_id, conversation_id, payload)
		VALUES (?, 'new_conversation', ?, ?, ?, '{}')`, uuid.New(), f.org.ID, f.agent.ID, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if err := tx3.Rollback(); err != nil {
		t.Fatal(err)
	}
	next := f.startConversation(t)
	if e := nextEvent(t, stream); e.ConversationID != next.ID {
		t.Fatalf("event of conversation %s after a rollback, want %s", e.ConversationID, next.ID)
	}
}
