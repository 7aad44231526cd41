package rest_test

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// freshWorkspace creates a workspace of its own (user, org, agent, token).
func freshWorkspace(t *testing.T, w *world, name string) workspace {
	t.Helper()
	ctx := context.Background()
	u, org, agent, err := w.app.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{Email: name + "-" + uuid.NewString()[:8] + "@example.com",
		Password: "search-password", Name: name + " Owner", OrganizationName: name, AgentName: name + " Agent"})
	if err != nil {
		t.Fatal(err)
	}
	ws := workspace{UserID: u.ID, UserName: u.Name, Email: u.Email, OrgID: org.ID, OrgName: org.Name, AgentIDs: []string{agent.ID}}
	ws.Token = w.token(t, u.ID, nil, assistloop.AllScopes...)
	return ws
}

type searchItem struct {
	ID, ContactID, FullName string
	LastMessageDate         int64
	DateAdded               int64
}

// search runs a search and returns the ids, the total and the cursor.
func search(t *testing.T, w *world, ws workspace, params url.Values) ([]searchItem, int, string) {
	t.Helper()
	params.Set("locationId", ws.OrgID)
	r := do(t, w.srv.URL, request{Path: "/v1/conversations/search?" + params.Encode(), Token: ws.Token})
	if r.Status != 200 {
		t.Fatalf("search %v: %d %s", params, r.Status, r.Body)
	}
	var out struct {
		Conversations []searchItem
		Total         int
		NextCursor    *string
	}
	r.json(t, &out)
	cur := ""
	if out.NextCursor != nil {
		cur = *out.NextCursor
	}
	return out.Conversations, out.Total, cur
}

func names(items []searchItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.FullName
	}
	return out
}

// TestSearchConversations: full-text matching, ranking, every filter, and
// keyset pages that neither skip nor repeat.
func TestSearchConversations(t *testing.T) {
	w := shared(t)
	ws := freshWorkspace(t, w, "Searchco")
	api, convs := w.app.Services.ConversationsAPI, w.app.Services.Conversations
	agent2, err := w.app.Services.Agents.CreateAgent(ws.as(), ws.OrgID, "Second")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]uuid.UUID{}
	start := func(name, email, agent, content string) {
		in := assistloop.StartConversationInput{AgentID: agent, Content: content, ChatUser: &assistloop.ChatUserInput{Name: &name}}
		if email != "" {
			in.ChatUser.Email = &email
		}
		c, _, err := convs.StartConversation(ws.as(), in)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.ID
	}
	// Oldest first; each later conversation has a later last message.
	start("Alice Refund", "alice@shop.example", ws.AgentIDs[0], "Where is my parcel?")
	start("Bob", "bob@shop.example", ws.AgentIDs[0], "I want a refund for the broken kettle")
	start("Carol", "carol@mail.example", agent2.ID, "refund refund refund, the kettle leaks")
	start("Dave", "", ws.AgentIDs[0], "The kettle is lovely, thanks")
	start("Erin", "erin@shop.example", agent2.ID, "Question about invoices")
	if _, err := convs.SendGuestMessage(ws.as(), ids["Dave"], "but the lid is broken"); err != nil {
		t.Fatal(err)
	}
	// Erin: a human reply (read), starred, assigned, closed.
	if _, err := convs.ReplyToConversation(ws.as(), ids["Erin"], "Your invoice is attached"); err != nil {
		t.Fatal(err)
	}
	star, closed := true, assistloop.ConversationClosed
	if _, err := api.UpdateConversation(ws.as(), assistloop.UpdateConversationInput{ConversationID: ids["Erin"], Starred: &star,
		AssignedTo: &ws.UserID, Status: &closed}); err != nil {
		t.Fatal(err)
	}
	// A scheduled message's words are not searchable before it is sent,
	// nor a handoff notice's.
	later := time.Now().Add(time.Hour)
	bob := ids["Bob"]
	if _, err := api.SendOutboundMessage(ws.as(), assistloop.OutboundMessageInput{ConversationID: &bob, Channel: assistloop.ChannelLiveChat,
		Content: "secretword", ScheduledAt: &later}); err != nil {
		t.Fatal(err)
	}
	if _, err := convs.RequestHumanHandoff(ws.as(), ids["Alice Refund"], nil); err != nil {
		t.Fatal(err)
	}

	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		params url.Values
		want   []string // in order
	}{
		{"everything, newest last message first", q(), []string{"Erin", "Dave", "Carol", "Bob", "Alice Refund"}},
		{"ascending", q("sort", "asc"), []string{"Alice Refund", "Bob", "Carol", "Dave", "Erin"}},
		{"by creation", q("sortBy", "date_added"), []string{"Erin", "Dave", "Carol", "Bob", "Alice Refund"}},
		{"a word in messages or the name", q("query", "refund"), []string{"Carol", "Bob", "Alice Refund"}},
		{"case-insensitive", q("query", "KETTLE"), []string{"Dave", "Carol", "Bob"}},
		{"every word", q("query", "kettle broken"), []string{"Dave", "Bob"}},
		{"a later message counts", q("query", "lid"), []string{"Dave"}},
		{"a phrase", q("query", `"broken kettle"`), []string{"Bob"}},
		{"excluded word", q("query", "kettle -refund"), []string{"Dave"}},
		{"or", q("query", "parcel or invoices"), []string{"Erin", "Alice Refund"}},
		{"an email", q("query", "carol@mail.example"), []string{"Carol"}},
		{"an email's parts", q("query", "shop.example"), []string{"Erin", "Bob", "Alice Refund"}},
		{"an agent reply", q("query", "attached"), []string{"Erin"}},
		{"not a scheduled message", q("query", "secretword"), nil},
		{"not a platform notice", q("query", "requested"), nil},
		{"relevance: the name and repetitions first", q("query", "refund", "sortBy", "relevance"), []string{"Alice Refund", "Carol", "Bob"}},
		{"contact", q("contactId", contactOf(t, w, ws, ids["Bob"])), []string{"Bob"}},
		{"agent", q("agentId", agent2.ID), []string{"Erin", "Carol"}},
		{"conversation id", q("id", ids["Dave"].String()), []string{"Dave"}},
		{"assigned", q("assignedTo", ws.UserID), []string{"Erin"}},
		{"unassigned", q("assignedTo", "unassigned", "query", "kettle"), []string{"Dave", "Carol", "Bob"}},
		{"assigned or unassigned", q("assignedTo", ws.UserID+",unassigned"), []string{"Erin", "Dave", "Carol", "Bob", "Alice Refund"}},
		{"unread", q("status", "unread"), []string{"Dave", "Carol", "Bob", "Alice Refund"}},
		{"read", q("status", "read"), []string{"Erin"}},
		{"starred", q("status", "starred"), []string{"Erin"}},
		{"closed", q("status", "closed"), []string{"Erin"}},
		{"open", q("status", "open", "query", "invoices"), nil},
		{"human mode", q("responseMode", "human"), []string{"Erin", "Alice Refund"}},
		{"ai mode (seed spelling)", q("response_mode", "ai"), []string{"Dave", "Carol", "Bob"}},
		{"created in the future", q("dateAddedFrom", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil},
		{"created until today", q("dateAddedTo", time.Now().UTC().Format("2006-01-02")), []string{"Erin", "Dave", "Carol", "Bob", "Alice Refund"}},
		{"no match", q("query", "zzzzqqq"), nil},
		{"punctuation only", q("query", "!!!"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, total, _ := search(t, w, ws, tt.params)
			if got := names(items); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if total != len(tt.want) {
				t.Errorf("total %d, want %d", total, len(tt.want))
			}
		})
	}

	// Keyset pages, by cursor and by startAfterDate, both directions.
	all := []string{"Erin", "Dave", "Carol", "Bob", "Alice Refund"}
	for _, order := range []string{"desc", "asc"} {
		want := slices.Clone(all)
		if order == "asc" {
			slices.Reverse(want)
		}
		for _, by := range []string{"cursor", "startAfterDate"} {
			t.Run("pages "+order+" by "+by, func(t *testing.T) {
				var got []string
				params := q("limit", "2", "sort", order)
				for range 5 {
					items, total, next := search(t, w, ws, params)
					if total != 5 {
						t.Errorf("total %d on a page, want 5", total)
					}
					got = append(got, names(items)...)
					if next == "" {
						break
					}
					params = q("limit", "2", "sort", order)
					if by == "cursor" {
						params.Set("cursor", next)
					} else {
						params.Set("startAfterDate", strconv.FormatInt(items[len(items)-1].LastMessageDate, 10))
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages gave %v, want %v", got, want)
				}
			})
		}
	}
	t.Run("relevance pages", func(t *testing.T) {
		items, _, next := search(t, w, ws, q("query", "refund", "sortBy", "relevance", "limit", "2"))
		rest, _, last := search(t, w, ws, q("query", "refund", "sortBy", "relevance", "limit", "2", "cursor", next))
		if got := append(names(items), names(rest)...); !slices.Equal(got, []string{"Alice Refund", "Carol", "Bob"}) || last != "" {
			t.Errorf("relevance pages: %v (next %q)", got, last)
		}
		r := do(t, w.srv.URL, request{Path: "/v1/conversations/search?locationId=" + ws.OrgID + "&cursor=" + next, Token: ws.Token})
		if r.Status != 422 || !contains(r.Body, "another sort") {
			t.Errorf("a relevance cursor for a date sort: %d %s", r.Status, r.Body)
		}
	})

	// Sending the scheduled message makes its words searchable.
	if _, err := w.db.ExecContext(context.Background(), "UPDATE messages SET scheduled_at = now() - interval '1 second' WHERE content = 'secretword'"); err != nil {
		t.Fatal(err)
	}
	sendDue(t, w)
	if items, _, _ := search(t, w, ws, q("query", "secretword")); !slices.Equal(names(items), []string{"Bob"}) {
		t.Errorf("after sending: %v", names(items))
	}
	// A customer's new name replaces the old one.
	if _, err := w.db.ExecContext(context.Background(), "UPDATE chat_users SET name = 'Robert' WHERE id = ?", contactOf(t, w, ws, bob)); err != nil {
		t.Fatal(err)
	}
	if items, _, _ := search(t, w, ws, q("query", "bob")); len(items) != 1 { // bob@shop.example still matches
		t.Errorf("after renaming, by email: %v", names(items))
	}
	if items, _, _ := search(t, w, ws, q("query", "robert")); len(items) != 1 {
		t.Errorf("after renaming, by the new name: %v", names(items))
	}
	if items, _, _ := search(t, w, ws, q("query", "refund", "contactId", contactOf(t, w, ws, bob))); len(items) != 1 {
		t.Errorf("after renaming, the messages still match: %v", names(items))
	}
}

// contactOf returns the chat user of a conversation.
func contactOf(t *testing.T, w *world, ws workspace, id uuid.UUID) string {
	t.Helper()
	c, err := w.app.Services.Conversations.FindConversation(ws.as(), id)
	if err != nil {
		t.Fatal(err)
	}
	return *c.ChatUserID
}
