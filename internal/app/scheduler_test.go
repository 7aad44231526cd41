package app_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/internal/scheduler"
)

// runApp runs a's HTTP server and workers until stop is called.
func runApp(t *testing.T, a *app.App) (stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// schedulerApp is a service instance whose scheduler polls often.
func schedulerApp(t *testing.T) *app.App {
	a := newApp(t, testConfig(t))
	a.SchedulerOptions = scheduler.Options{Poll: 20 * time.Millisecond, Lease: 5 * time.Second, Batch: 3}
	return a
}

// collect reads the conversation's messageAdded stream into a map of
// message id → times seen, until stop.
func collect(t *testing.T, a *app.App, ctx context.Context, conv uuid.UUID) (func() map[uuid.UUID]int, func()) {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	ch, err := a.Services.Messages.SubscribeMessages(sctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uuid.UUID]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ch {
			mu.Lock()
			seen[m.ID]++
			mu.Unlock()
		}
	}()
	return func() map[uuid.UUID]int {
			mu.Lock()
			defer mu.Unlock()
			out := make(map[uuid.UUID]int, len(seen))
			for k, v := range seen {
				out[k] = v
			}
			return out
		}, func() {
			cancel()
			<-done
		}
}

// TestScheduledMessagesExactlyOnce: two instances on one database, each
// running its scheduler, send every due message exactly once, in
// messageAdded once each, and messages scheduled before a restart are sent
// by the instance that comes up after it.
func TestScheduledMessagesExactlyOnce(t *testing.T) {
	a1, a2 := schedulerApp(t), schedulerApp(t)
	acc := newAccount(t, a1, "Scheduler Inc")
	ctx := assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: acc.UserID, Scopes: assistloop.AllScopes})
	conv, _, err := a1.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: acc.AgentID, Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*app.App{a1, a2} {
		sctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := a.Store.Start(sctx); err != nil {
			t.Fatal(err)
		}
	}
	seen, stopCollect := collect(t, a1, ctx, conv.ID)
	defer stopCollect()

	schedule := func(n int, at time.Time) []uuid.UUID {
		var ids []uuid.UUID
		for i := range n {
			m, err := a2.Services.ConversationsAPI.SendOutboundMessage(ctx, assistloop.OutboundMessageInput{ConversationID: &conv.ID,
				Channel: assistloop.ChannelLiveChat, Content: "scheduled " + uuid.NewString()[:4], ScheduledAt: &at})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Pending() || i < 0 {
				t.Fatalf("message %d not scheduled: %+v", i, m)
			}
			ids = append(ids, m.ID)
		}
		return ids
	}
	sent := func(ids []uuid.UUID) int {
		return countRows(t, a1, "SELECT count(*) FROM messages WHERE id IN (?) AND sent_at IS NOT NULL AND lease_token IS NULL", bun.In(ids))
	}

	// Scheduled before either instance runs; due once both do.
	first := schedule(20, time.Now().Add(300*time.Millisecond))
	stop1, stop2 := runApp(t, a1), runApp(t, a2)
	eventually(t, "every scheduled message sent", func() bool { return sent(first) == len(first) })
	eventually(t, "every sent message streamed", func() bool { return len(seen()) >= len(first) })

	// Scheduled, then both instances stop before it is due; a new
	// instance sends it.
	second := schedule(5, time.Now().Add(400*time.Millisecond))
	stop1()
	stop2()
	if n := sent(second); n != 0 {
		t.Fatalf("%d sent before they were due", n)
	}
	a3 := schedulerApp(t)
	runApp(t, a3)
	eventually(t, "the messages scheduled before the restart sent", func() bool { return sent(second) == len(second) })
	eventually(t, "and streamed", func() bool { return len(seen()) >= len(first)+len(second) })

	time.Sleep(100 * time.Millisecond) // let any duplicate show up
	for id, n := range seen() {
		if n != 1 {
			t.Errorf("message %s streamed %d times", id, n)
		}
	}
	all := append(first, second...)
	for _, id := range all {
		if seen()[id] != 1 {
			t.Errorf("message %s streamed %d times, want once", id, seen()[id])
		}
	}
	// Each sent once: a message's created_at moved to its send time once,
	// and the conversation lists them all, in send order, once each.
	page, err := a1.Services.Messages.ListMessages(ctx, assistloop.MessageFilter{ConversationID: conv.ID}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1+len(all) {
		t.Errorf("%d messages listed, want %d", len(page.Messages), 1+len(all))
	}
	c, err := a1.Services.Conversations.FindConversation(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.ResponseMode != assistloop.ResponseModeHuman || c.LastMessageID == nil || *c.LastMessageID != page.Messages[0].ID {
		t.Errorf("conversation after sending: mode %s, last message %v, newest listed %s", c.ResponseMode, c.LastMessageID, page.Messages[0].ID)
	}
}

// TestScheduledMessageLostLease: a scheduler that claims a message and
// dies loses it to the next claim once its lease runs out; when it comes
// back late it sends nothing, and a cancelled message is never sent.
func TestScheduledMessageLostLease(t *testing.T) {
	a := newApp(t, testConfig(t))
	acc := newAccount(t, a, "Lease Inc")
	ctx := assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: acc.UserID, Scopes: assistloop.AllScopes})
	conv, _, err := a.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: acc.AgentID, Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(50 * time.Millisecond)
	var ids []uuid.UUID
	for range 2 {
		m, err := a.Services.ConversationsAPI.SendOutboundMessage(ctx, assistloop.OutboundMessageInput{ConversationID: &conv.ID,
			Channel: assistloop.ChannelSMS, Content: "later", ScheduledAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	sys := assistloop.NewSystemContext(context.Background())
	s1, s2 := postgres.NewMessageScheduler(a.Store), postgres.NewMessageScheduler(a.Store)
	time.Sleep(60 * time.Millisecond)

	dead, err := s1.ClaimDueMessages(sys, 10, 100*time.Millisecond) // then "crashes"
	if err != nil || len(dead) != 2 {
		t.Fatalf("first claim: %v %v", dead, err)
	}
	if again, err := s2.ClaimDueMessages(sys, 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("a leased message was claimed again: %v %v", again, err)
	}
	// The second message is cancelled meanwhile.
	if _, err := a.Services.ConversationsAPI.CancelScheduledMessage(ctx, ids[1], false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	taken, err := s2.ClaimDueMessages(sys, 10, time.Minute)
	if err != nil || len(taken) != 1 || taken[0].MessageID != ids[0] {
		t.Fatalf("after the lease ran out: %v %v", taken, err)
	}
	if ok, err := s1.SendScheduledMessage(sys, dead[0]); err != nil || ok {
		t.Errorf("the dead scheduler's late send: sent=%v %v, want nothing", ok, err)
	}
	if ok, err := s1.SendScheduledMessage(sys, dead[1]); err != nil || ok {
		t.Errorf("sending a cancelled message: sent=%v %v", ok, err)
	}
	if ok, err := s2.SendScheduledMessage(sys, taken[0]); err != nil || !ok {
		t.Errorf("the new claim's send: sent=%v %v", ok, err)
	}
	if ok, err := s2.SendScheduledMessage(sys, taken[0]); err != nil || ok {
		t.Errorf("sending twice: sent=%v %v", ok, err)
	}
	m, err := a.Services.ConversationsAPI.FindAnyMessage(ctx, ids[0])
	if err != nil || m.SentAt == nil || *m.Status != assistloop.StatusPending {
		t.Errorf("the sent SMS: %+v %v (an SMS waits for its provider: pending)", m, err)
	}
	if _, err := a.Services.ConversationsAPI.CancelScheduledMessage(ctx, ids[0], false); assistloop.ErrorCode(err) != assistloop.ECONFLICT {
		t.Errorf("cancelling a sent message: %v, want conflict", err)
	}
	if n := countRows(t, a, "SELECT count(*) FROM messages WHERE conversation_id = ? AND sent_at IS NOT NULL", conv.ID); n != 1 {
		t.Errorf("%d messages sent, want 1", n)
	}
}

// TestCreateConversationEvents: a conversation created with a first
// message emits new_conversation (one); without one, none.
func TestCreateConversationEvents(t *testing.T) {
	a := newApp(t, testConfig(t))
	acc := newAccount(t, a, "Events Inc")
	ctx := assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: acc.UserID, Scopes: assistloop.AllScopes})
	name, first := "Quiet", "Hello there"
	quiet, msg, err := a.Services.ConversationsAPI.CreateConversation(ctx, assistloop.CreateConversationInput{
		OrganizationID: acc.OrganizationID, ChatUser: &assistloop.ChatUserInput{Name: &name}})
	if err != nil || msg != nil {
		t.Fatal(msg, err)
	}
	loud, msg, err := a.Services.ConversationsAPI.CreateConversation(ctx, assistloop.CreateConversationInput{
		OrganizationID: acc.OrganizationID, ChatUserID: quiet.ChatUserID, Message: &first})
	if err != nil || msg == nil {
		t.Fatal(msg, err)
	}
	if n := countRows(t, a, "SELECT count(*) FROM events WHERE conversation_id = ? AND type = 'new_conversation'", quiet.ID); n != 0 {
		t.Errorf("%d events for the conversation without a message", n)
	}
	if n := countRows(t, a, "SELECT count(*) FROM events WHERE conversation_id = ? AND type = 'new_conversation'", loud.ID); n != 1 {
		t.Errorf("%d events for the conversation with a first message, want 1", n)
	}
	if *loud.ChatUserID != *quiet.ChatUserID || loud.AgentID != acc.AgentID {
		t.Errorf("the second conversation: customer %v, agent %s", loud.ChatUserID, loud.AgentID)
	}
}
