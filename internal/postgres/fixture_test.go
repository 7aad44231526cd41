package postgres_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/pgtest"
	"github.com/assistloop/assistloop/internal/postgres"
)

// services is every service over one store.
type services struct {
	db            *bun.DB
	store         *postgres.DB
	users         *postgres.UserService
	organizations *postgres.OrganizationService
	agents        *postgres.AgentService
	chatUsers     *postgres.ChatUserService
	conversations *postgres.ConversationService
	messages      *postgres.MessageService
	events        *postgres.EventService
	tokens        *postgres.TokenService
	clients       *postgres.ClientService
}

func newServices(t testing.TB) *services {
	t.Helper()
	db := pgtest.Open(t)
	store := postgres.NewDB(db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &services{
		db: db, store: store,
		users:         postgres.NewUserService(store),
		organizations: postgres.NewOrganizationService(store),
		agents:        postgres.NewAgentService(store),
		chatUsers:     postgres.NewChatUserService(store),
		conversations: postgres.NewConversationService(store),
		messages:      postgres.NewMessageService(store),
		events:        postgres.NewEventService(store),
		tokens:        postgres.NewTokenService(store),
		clients:       postgres.NewClientService(store),
	}
}

// workspace is a user with their workspace and agent, and a context acting
// as that user with every scope.
type workspace struct {
	user  *assistloop.User
	org   *assistloop.Organization
	agent *assistloop.Agent
	ctx   context.Context
}

func (s *services) newWorkspace(t testing.TB, name string) *workspace {
	t.Helper()
	u, o, a, err := s.users.CreateUser(context.Background(), assistloop.CreateUserInput{
		Email:            name + "-" + assistloop.RandomString(8) + "@example.com",
		Password:         "correct horse battery",
		Name:             name,
		OrganizationName: name + " Inc",
		AgentName:        name + " Bot",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &workspace{user: u, org: o, agent: a,
		ctx: assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: u.ID, Scopes: assistloop.AllScopes})}
}

// as returns a context acting as the workspace's user with only scopes.
func (w *workspace) as(scopes ...assistloop.Scope) context.Context {
	return assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: w.user.ID, Scopes: scopes})
}

func (s *services) start(t *testing.T, w *workspace, content string) (*assistloop.Conversation, *assistloop.Message) {
	t.Helper()
	name, email := "Jane Smith", "jane@example.com"
	c, m, err := s.conversations.StartConversation(w.ctx, assistloop.StartConversationInput{
		AgentID: w.agent.ID, Content: content, ChatUser: &assistloop.ChatUserInput{Name: &name, Email: &email},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

// eventsOf returns the events of a conversation, oldest first.
func (s *services) eventsOf(t *testing.T, conversationID any) []*assistloop.Event {
	t.Helper()
	var events []*assistloop.Event
	if err := s.db.NewSelect().Model(&events).Where("conversation_id = ?", conversationID).Order("seq").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return events
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := assistloop.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func ptr[T any](v T) *T { return &v }
