package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func receive[T any](t *testing.T, ch <-chan T, within time.Duration) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("stream closed")
		}
		return v
	case <-time.After(within):
		t.Fatalf("nothing received within %v", within)
	}
	panic("unreachable")
}

func silent[T any](t *testing.T, ch <-chan T, d time.Duration) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected item %+v", v)
	case <-time.After(d):
	}
}

func TestStreamEventsReplaysThenFollows(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "stream")
	c1, _ := s.start(t, w, "one")
	c2, _ := s.start(t, w, "two")
	if _, err := s.conversations.RequestHumanHandoff(w.ctx, c2.ID, nil); err != nil {
		t.Fatal(err)
	}
	first := s.eventsOf(t, c1.ID)[0]

	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	// From the beginning: the workspace's three events in commit order.
	all, err := s.events.StreamEvents(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		conv uuid.UUID
		typ  assistloop.EventType
	}{{c1.ID, assistloop.EventNewConversation}, {c2.ID, assistloop.EventNewConversation}, {c2.ID, assistloop.EventHumanHandoffRequired}}
	for i, w := range want {
		e := receive(t, all, 5*time.Second)
		if e.ConversationID != w.conv || e.Type != w.typ {
			t.Errorf("event %d = %s %s, want %s %s", i, e.Type, e.ConversationID, w.typ, w.conv)
		}
	}

	// After the first, handoffs only: just the one.
	handoffs, err := s.events.StreamEvents(ctx, &first.ID, []assistloop.EventType{assistloop.EventHumanHandoffRequired})
	if err != nil {
		t.Fatal(err)
	}
	if e := receive(t, handoffs, 5*time.Second); e.ConversationID != c2.ID || e.Type != assistloop.EventHumanHandoffRequired {
		t.Errorf("filtered replay = %+v", e)
	}

	// Then live: a new conversation reaches the unfiltered stream only.
	c3, _ := s.start(t, w, "three")
	if e := receive(t, all, 5*time.Second); e.ConversationID != c3.ID {
		t.Errorf("live event for %s, want %s", e.ConversationID, c3.ID)
	}
	silent(t, handoffs, 300*time.Millisecond)

	// Unknown cursor.
	missing := uuid.New()
	_, err = s.events.StreamEvents(ctx, &missing, nil)
	wantCode(t, err, assistloop.ENOTFOUND)
	_, err = s.events.StreamEvents(ctx, nil, []assistloop.EventType{"bogus"})
	wantCode(t, err, assistloop.EINVALID)
}

// TestStreamEventsNeverSkipsALateCommit: an event written by a transaction
// that started earlier but commits later must not be skipped by a reader
// that already saw a later event. The stream waits behind the open
// transaction and then yields both, in commit-safe order.
func TestStreamEventsNeverSkipsALateCommit(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "late")
	ctx, cancel := context.WithTimeout(w.ctx, 15*time.Second)
	defer cancel()
	anchor, _ := s.start(t, w, "anchor")
	after := s.eventsOf(t, anchor.ID)[0].ID
	stream, err := s.events.StreamEvents(ctx, &after, nil)
	if err != nil {
		t.Fatal(err)
	}

	// A slow transaction takes its transaction id first and writes an event
	// by hand, but does not commit yet.
	slow, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback() //nolint:errcheck
	if _, err := slow.ExecContext(ctx, "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	lateID := uuid.New()
	if err := insertRawEvent(ctx, slow, lateID, w, anchor.ID); err != nil {
		t.Fatal(err)
	}

	// Meanwhile a normal change commits its event.
	quick, _ := s.start(t, w, "quick")
	silent(t, stream, 500*time.Millisecond) // held back behind the open transaction

	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	got := []uuid.UUID{receive(t, stream, 5*time.Second).ID, receive(t, stream, 5*time.Second).ID}
	quickEvent := s.eventsOf(t, quick.ID)[0].ID
	if got[0] != lateID || got[1] != quickEvent {
		t.Errorf("stream order = %v, want the older transaction's event %s then %s", got, lateID, quickEvent)
	}
}

func insertRawEvent(ctx context.Context, tx bun.Tx, id uuid.UUID, w *workspace, conv uuid.UUID) error {
	_, err := tx.NewInsert().Model(&assistloop.Event{ID: id, Type: assistloop.EventNewConversation, OrganizationID: w.org.ID,
		AgentID: w.agent.ID, ConversationID: conv, Payload: []byte(`{}`), CreatedAt: time.Now()}).Exec(ctx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "SELECT pg_notify('assistloop_events', '')")
	return err
}

func TestStreamEventsStopsWithItsContext(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "stop")
	ctx, cancel := context.WithCancel(w.ctx)
	stream, err := s.events.StreamEvents(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-stream:
		for ok {
			_, ok = <-stream
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not close after its context ended")
	}
}

func TestRecentEvents(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "recent")
	var convs []*assistloop.Conversation
	for i := 0; i < 4; i++ {
		c, _ := s.start(t, w, "hello")
		convs = append(convs, c)
	}
	if _, err := s.conversations.RequestHumanHandoff(w.ctx, convs[1].ID, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.events.RecentEvents(w.ctx, w.agent.ID, assistloop.EventNewConversation, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ConversationID != convs[3].ID || got[2].ConversationID != convs[1].ID {
		t.Errorf("recent new_conversation events = %v", got)
	}
	got, err = s.events.RecentEvents(w.ctx, w.agent.ID, assistloop.EventHumanHandoffRequired, 10)
	if err != nil || len(got) != 1 || got[0].ConversationID != convs[1].ID {
		t.Errorf("recent handoffs = %v, %v", got, err)
	}
	for _, n := range []int{0, 11} {
		_, err := s.events.RecentEvents(w.ctx, w.agent.ID, assistloop.EventNewConversation, n)
		wantCode(t, err, assistloop.EINVALID)
	}
}

func TestSubscribeMessages(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "live")
	conv, _ := s.start(t, w, "hello")
	other, _ := s.start(t, w, "elsewhere")
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	msgs, err := s.messages.SubscribeMessages(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	silent(t, msgs, 200*time.Millisecond) // history is not replayed
	if _, err := s.conversations.SendGuestMessage(w.ctx, other.ID, "not for this stream"); err != nil {
		t.Fatal(err)
	}
	reply, err := s.conversations.ReplyToConversation(w.ctx, conv.ID, "a human here")
	if err != nil {
		t.Fatal(err)
	}
	got := receive(t, msgs, 5*time.Second)
	if got.ID != reply.ID || got.SenderName == nil || *got.SenderName != w.user.Name {
		t.Errorf("received %+v, want the reply with its sender", got)
	}
	for i := 0; i < 5; i++ {
		if _, err := s.conversations.SendGuestMessage(w.ctx, conv.ID, "burst"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if m := receive(t, msgs, 5*time.Second); m.Content != "burst" {
			t.Errorf("burst message %d = %q", i, m.Content)
		}
	}
	cancel()
	for range msgs {
	}
}
