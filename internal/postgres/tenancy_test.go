package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// TestTenancy: a user of workspace B gets not-found for everything of
// workspace A, reads and writes alike, and A's data stays untouched.
func TestTenancy(t *testing.T) {
	s := newServices(t)
	a := s.newWorkspace(t, "alpha")
	b := s.newWorkspace(t, "bravo")
	conv, msg := s.start(t, a, "private to alpha")
	event := s.eventsOf(t, conv.ID)[0]

	checks := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"find organization", func(ctx context.Context) error { _, err := s.organizations.FindOrganization(ctx, a.org.ID); return err }},
		{"list agents", func(ctx context.Context) error {
			_, err := s.agents.ListAgents(ctx, a.org.ID, assistloop.Page{})
			return err
		}},
		{"create agent", func(ctx context.Context) error { _, err := s.agents.CreateAgent(ctx, a.org.ID, "intruder"); return err }},
		{"find agent", func(ctx context.Context) error { _, err := s.agents.FindAgent(ctx, a.agent.ID); return err }},
		{"list conversations", func(ctx context.Context) error {
			_, err := s.conversations.ListConversations(ctx, assistloop.ConversationFilter{AgentID: a.agent.ID}, assistloop.Page{})
			return err
		}},
		{"find conversation", func(ctx context.Context) error { _, err := s.conversations.FindConversation(ctx, conv.ID); return err }},
		{"find message", func(ctx context.Context) error { _, err := s.messages.FindMessage(ctx, msg.ID); return err }},
		{"list messages", func(ctx context.Context) error {
			_, err := s.messages.ListMessages(ctx, assistloop.MessageFilter{ConversationID: conv.ID}, assistloop.Page{})
			return err
		}},
		{"subscribe messages", func(ctx context.Context) error { _, err := s.messages.SubscribeMessages(ctx, conv.ID); return err }},
		{"find event", func(ctx context.Context) error { _, err := s.events.FindEvent(ctx, event.ID); return err }},
		{"stream events after A's", func(ctx context.Context) error {
			_, err := s.events.StreamEvents(ctx, &event.ID, nil)
			return err
		}},
		{"recent events", func(ctx context.Context) error {
			_, err := s.events.RecentEvents(ctx, a.agent.ID, assistloop.EventNewConversation, 5)
			return err
		}},
		{"start conversation", func(ctx context.Context) error {
			_, _, err := s.conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: a.agent.ID, Content: "hi"})
			return err
		}},
		{"guest message", func(ctx context.Context) error {
			_, err := s.conversations.SendGuestMessage(ctx, conv.ID, "hi")
			return err
		}},
		{"agent message", func(ctx context.Context) error {
			_, err := s.conversations.SendAgentMessage(ctx, conv.ID, "hi")
			return err
		}},
		{"handoff", func(ctx context.Context) error {
			_, err := s.conversations.RequestHumanHandoff(ctx, conv.ID, nil)
			return err
		}},
		{"reply", func(ctx context.Context) error {
			_, err := s.conversations.ReplyToConversation(ctx, conv.ID, "hi")
			return err
		}},
		{"close", func(ctx context.Context) error { _, err := s.conversations.CloseConversation(ctx, conv.ID); return err }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, c.call(b.ctx), assistloop.ENOTFOUND)
		})
	}

	// Batch reads silently omit foreign rows.
	if got, err := s.organizations.OrganizationsByIDs(b.ctx, []string{a.org.ID, b.org.ID}); err != nil || len(got) != 1 || got[0].ID != b.org.ID {
		t.Errorf("OrganizationsByIDs = %v, %v", got, err)
	}
	if got, err := s.agents.AgentsByIDs(b.ctx, []string{a.agent.ID}); err != nil || len(got) != 0 {
		t.Errorf("AgentsByIDs = %v, %v", got, err)
	}
	if got, err := s.chatUsers.ChatUsersByIDs(b.ctx, []string{*conv.ChatUserID}); err != nil || len(got) != 0 {
		t.Errorf("ChatUsersByIDs = %v, %v", got, err)
	}
	if got, err := s.conversations.ConversationsByIDs(b.ctx, []uuid.UUID{conv.ID}); err != nil || len(got) != 0 {
		t.Errorf("ConversationsByIDs = %v, %v", got, err)
	}
	if got, err := s.users.UsersByIDs(b.ctx, []string{a.user.ID}); err != nil || len(got) != 0 {
		t.Errorf("UsersByIDs = %v, %v", got, err)
	}
	if got, err := s.messages.AttachmentsByMessageIDs(b.ctx, []uuid.UUID{msg.ID}); err != nil || len(got) != 0 {
		t.Errorf("AttachmentsByMessageIDs = %v, %v", got, err)
	}
	orgs, err := s.organizations.ListOrganizations(b.ctx, assistloop.Page{})
	if err != nil || len(orgs.Organizations) != 1 || orgs.Organizations[0].ID != b.org.ID {
		t.Errorf("B's organizations = %v, %v", orgs, err)
	}

	// B's event stream never shows A's events.
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	stream, err := s.events.StreamEvents(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bConv, _ := s.start(t, b, "bravo's own")
	got := <-stream
	if got == nil || got.ConversationID != bConv.ID {
		t.Errorf("B's stream yielded %+v, want B's own event first", got)
	}

	// Nothing of A changed.
	after, err := s.conversations.FindConversation(a.ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != assistloop.ConversationOpen || after.ResponseMode != assistloop.ResponseModeAI || !after.UpdatedAt.Equal(conv.UpdatedAt) {
		t.Errorf("A's conversation changed: %+v", after)
	}
	page, err := s.messages.ListMessages(a.ctx, assistloop.MessageFilter{ConversationID: conv.ID}, assistloop.Page{})
	if err != nil || len(page.Messages) != 1 {
		t.Errorf("A's conversation has %d messages, want 1 (%v)", len(page.Messages), err)
	}

	// A member of both sees both.
	if _, err := s.db.NewInsert().Model(&assistloop.Membership{OrganizationID: a.org.ID, UserID: b.user.ID,
		Role: assistloop.RoleMember, CreatedAt: time.Now()}).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.conversations.FindConversation(b.ctx, conv.ID); err != nil {
		t.Errorf("after joining A, B cannot read A's conversation: %v", err)
	}
	if u, err := s.users.FindUser(b.ctx, a.user.ID); err != nil || u.ID != a.user.ID {
		t.Errorf("fellow members see each other: %v %v", u, err)
	}
}

func TestScopes(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "scopes")
	conv, _ := s.start(t, w, "hi")
	readOnly := w.as(assistloop.ScopeReadConversations, assistloop.ScopeReadMessages)
	for name, call := range map[string]func() error{
		"guest":   func() error { _, err := s.conversations.SendGuestMessage(readOnly, conv.ID, "x"); return err },
		"agent":   func() error { _, err := s.conversations.SendAgentMessage(readOnly, conv.ID, "x"); return err },
		"handoff": func() error { _, err := s.conversations.RequestHumanHandoff(readOnly, conv.ID, nil); return err },
		"reply":   func() error { _, err := s.conversations.ReplyToConversation(readOnly, conv.ID, "x"); return err },
		"close":   func() error { _, err := s.conversations.CloseConversation(readOnly, conv.ID); return err },
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, call(), assistloop.EFORBIDDEN) })
	}
}
