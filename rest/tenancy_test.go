package rest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// TestCrossTenant: a token of workspace B, with every scope, against every
// route with workspace A's ids answers 404 exactly like ids that do not
// exist, leaks nothing of A, and changes nothing in A.
func TestCrossTenant(t *testing.T) {
	w := shared(t)
	agentA := w.A.AgentIDs[0]
	convA := newestConversation(t, w, w.A.Token, agentA, "Jane Smith")
	convID, _ := assistloop.ParseUUID(convA)
	before, err := w.app.Services.Messages.ListMessages(w.A.as(), assistloop.MessageFilter{ConversationID: convID}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	convBefore, err := w.app.Services.Conversations.FindConversation(w.A.as(), convID)
	if err != nil {
		t.Fatal(err)
	}

	missingAgent, missingOrg, missingConv := "agt_00000000000000000000", "org_00000000000000000000", uuid.NewString()
	routes := []struct {
		name, method, path, body, kind string
	}{
		{"agents", "GET", "/organizations/%s/agents", "", "Organization"},
		{"list", "GET", "/automation/agents/%s/conversations/list?status=1&per_page=10", "", "Agent"},
		{"recent-sample", "GET", "/automation/agents/%s/conversations/recent-sample?limit=3", "", "Agent"},
		{"find", "GET", "/automation/conversations/%s/messages/find", "", "Conversation"},
		{"reply", "POST", "/automation/conversations/%s/reply", `{"content":"leak?"}`, "Conversation"},
		{"close", "POST", "/automation/conversations/%s/close", `{"platform":"make"}`, "Conversation"},
	}
	secrets := []string{w.A.OrgID, w.A.OrgName, agentA, convA, w.A.UserID, w.A.UserName, w.A.Email, "Customer Support Agent", "Jane Smith"}
	for _, prefix := range []string{"/v1", "/api/v1"} {
		for _, rt := range routes {
			t.Run(prefix+" "+rt.name, func(t *testing.T) {
				foreign, missing := map[string]string{"Organization": w.A.OrgID, "Agent": agentA, "Conversation": convA}[rt.kind],
					map[string]string{"Organization": missingOrg, "Agent": missingAgent, "Conversation": missingConv}[rt.kind]
				got := do(t, w.srv.URL, request{Method: rt.method, Path: prefix + strings.Replace(rt.path, "%s", foreign, 1), Token: w.B.Token, Body: rt.body})
				ref := do(t, w.srv.URL, request{Method: rt.method, Path: prefix + strings.Replace(rt.path, "%s", missing, 1), Token: w.B.Token, Body: rt.body})
				if got.Status != http.StatusNotFound {
					t.Fatalf("status %d, want 404: %s", got.Status, got.Body)
				}
				want := `{"error":"` + rt.kind + ` not found","message":"The requested ` + strings.ToLower(rt.kind) +
					` could not be found or you don't have access to it."}`
				if compact(t, got.Body) != want {
					t.Errorf("body %s, want %s", got.Body, want)
				}
				if ref.Status != got.Status || string(ref.Body) != string(got.Body) {
					t.Errorf("a foreign id answers %d %s, a missing one %d %s: they must be indistinguishable", got.Status, got.Body, ref.Status, ref.Body)
				}
				for _, s := range secrets {
					if strings.Contains(string(got.Body), s) {
						t.Errorf("the body leaks %q: %s", s, got.Body)
					}
				}
			})
		}
	}

	t.Run("me and my organizations show only B", func(t *testing.T) {
		for _, path := range []string{"/v1/oauth/me", "/v1/my/organizations", "/v1/my/organizations?page=1&per_page=100"} {
			r := do(t, w.srv.URL, request{Path: path, Token: w.B.Token})
			if r.Status != http.StatusOK {
				t.Fatalf("%s: status %d", path, r.Status)
			}
			for _, s := range secrets {
				if strings.Contains(string(r.Body), s) {
					t.Errorf("%s leaks %q: %s", path, s, r.Body)
				}
			}
			if !strings.Contains(string(r.Body), map[bool]string{true: w.B.UserID, false: w.B.OrgID}[path == "/v1/oauth/me"]) {
				t.Errorf("%s does not show B: %s", path, r.Body)
			}
		}
	})

	after, err := w.app.Services.Messages.ListMessages(w.A.as(), assistloop.MessageFilter{ConversationID: convID}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	convAfter, err := w.app.Services.Conversations.FindConversation(w.A.as(), convID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Messages) != len(before.Messages) || convAfter.Status != convBefore.Status ||
		convAfter.ResponseMode != convBefore.ResponseMode || !convAfter.UpdatedAt.Equal(convBefore.UpdatedAt) {
		t.Errorf("workspace A's conversation changed: %d→%d messages, %s→%s, %s→%s", len(before.Messages), len(after.Messages),
			convBefore.Status, convAfter.Status, convBefore.ResponseMode, convAfter.ResponseMode)
	}
}
