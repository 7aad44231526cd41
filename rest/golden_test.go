package rest_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// placeholders replace the parts of a response that differ between runs
// (random ids, the clock) with stable names, numbered by first appearance,
// so ids that must be equal (a conversation's id and uuid) stay visibly
// equal. Timestamps are replaced only in their exact documented layouts: a
// timestamp in any other layout stays in the text and fails the comparison.
var placeholders = []struct {
	name string
	re   *regexp.Regexp
	keep string
}{
	{name: "uuid", re: regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
		keep: "00000000-0000-4000-8000-000000000000"}, // the synthetic sample's
	{name: "msg", re: regexp.MustCompile(`msg_[0-9a-f]{32}`)},
	{name: "usr", re: regexp.MustCompile(`usr_[0-9a-z]{20}`)},
	{name: "org", re: regexp.MustCompile(`org_[0-9a-z]{20}`)},
	{name: "agt", re: regexp.MustCompile(`agt_[0-9a-z]{20}`)},
	{name: "chu", re: regexp.MustCompile(`chu_[0-9a-z]{20}`)},
	{name: "sess", re: regexp.MustCompile(`sess_[0-9a-z]{20}`)},
}

var (
	microTimestamp = regexp.MustCompile(`"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"`)
	timestamp      = regexp.MustCompile(`"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"`)
)

// normalize rewrites a JSON body for golden comparison, keeping its key
// order and layout-independent.
func normalize(t testing.TB, body []byte) []byte {
	t.Helper()
	s := compact(t, body)
	for _, p := range placeholders {
		seen := map[string]string{}
		s = p.re.ReplaceAllStringFunc(s, func(m string) string {
			if m == p.keep {
				return m
			}
			if _, ok := seen[m]; !ok {
				seen[m] = fmt.Sprintf("<%s-%d>", p.name, len(seen)+1)
			}
			return seen[m]
		})
	}
	s = microTimestamp.ReplaceAllString(s, `"<timestamp.micro>"`)
	s = timestamp.ReplaceAllString(s, `"<timestamp>"`)
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(s), "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	got := normalize(t, body)
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./rest -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", t.Name(), path, got, want)
	}
}

// newestConversation returns the newest conversation of agent whose
// customer has the name, through the REST API.
func newestConversation(t *testing.T, w *world, token, agentID, customer string) string {
	t.Helper()
	r := do(t, w.srv.URL, request{Path: "/v1/automation/agents/" + agentID + "/conversations/list?per_page=100", Token: token})
	var list []struct {
		UUID     string `json:"uuid"`
		ChatUser struct {
			Name *string `json:"name"`
		} `json:"chat_user"`
	}
	r.json(t, &list)
	for _, c := range list {
		if c.ChatUser.Name != nil && *c.ChatUser.Name == customer {
			return c.UUID
		}
	}
	t.Fatalf("no conversation of %s with agent %s", customer, agentID)
	return ""
}

// TestGolden pins every route's documented shape on the demo workspace:
// keys, their order, types, nulls and formats.
func TestGolden(t *testing.T) {
	w := shared(t)
	support := w.A.AgentIDs[0]
	ahmed := newestConversation(t, w, w.A.Token, support, "Ahmed Hassan")

	// An agent without events, for the synthetic sample.
	empty, err := w.app.Services.Agents.CreateAgent(w.B.as(), w.B.OrgID, "Empty Agent")
	if err != nil {
		t.Fatal(err)
	}
	// A conversation of workspace B to reply to and close.
	name := "Golden Customer"
	conv, _, err := w.app.Services.Conversations.StartConversation(w.B.as(), assistloop.StartConversationInput{
		AgentID: w.B.AgentIDs[0], Content: "Hello", ChatUser: &assistloop.ChatUserInput{Name: &name}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		req  request
	}{
		{"me", request{Path: "/v1/oauth/me", Token: w.A.Token}},
		{"my_organizations", request{Path: "/v1/my/organizations", Token: w.A.Token}},
		{"agents", request{Path: "/v1/organizations/" + w.A.OrgID + "/agents", Token: w.A.Token}},
		{"conversations_list", request{Path: "/v1/automation/agents/" + support + "/conversations/list?per_page=10", Token: w.A.Token}},
		{"conversations_list_filtered", request{Path: "/v1/automation/agents/" + support +
			"/conversations/list?status=1&response_mode=human&per_page=20", Token: w.A.Token}},
		{"conversations_list_closed", request{Path: "/v1/automation/agents/" + support +
			"/conversations/list?status=0", Token: w.A.Token}},
		{"conversations_list_page_3", request{Path: "/api/v1/automation/agents/" + support +
			"/conversations/list?per_page=10&page=3", Token: w.A.Token}},
		{"recent_sample_new_conversation", request{Path: "/v1/automation/agents/" + support +
			"/conversations/recent-sample?limit=3", Token: w.A.Token}},
		{"recent_sample_human_handoff", request{Path: "/v1/automation/agents/" + support +
			"/conversations/recent-sample?limit=2&type=human_handoff_required", Token: w.A.Token}},
		{"recent_sample_synthetic", request{Path: "/v1/automation/agents/" + empty.ID +
			"/conversations/recent-sample", Token: w.B.Token}},
		{"recent_sample_synthetic_handoff", request{Path: "/v1/automation/agents/" + empty.ID +
			"/conversations/recent-sample?type=human_handoff_required", Token: w.B.Token}},
		{"messages_find", request{Path: "/v1/automation/conversations/" + ahmed + "/messages/find", Token: w.A.Token}},
		{"reply", request{Method: http.MethodPost, Path: "/v1/automation/conversations/" + conv.ID.String() + "/reply",
			Token: w.B.Token, Body: `{"content": "Thank you for contacting us. A support agent will be with you shortly."}`}},
		{"close", request{Method: http.MethodPost, Path: "/v1/automation/conversations/" + conv.ID.String() + "/close",
			Token: w.B.Token, Body: `{"platform": "make"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, w.srv.URL, tt.req)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			checkGolden(t, tt.name, r.Body)
		})
	}
}
