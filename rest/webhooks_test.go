package rest_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// publicTarget is an HTTPS target whose address is public and needs no DNS
// (the test machine has no resolver for the internet).
const publicTarget = "https://93.184.216.34/hook/abcd1234"

func subscribeBody(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

// TestWebhookRoutes: the documented shapes of subscribe and unsubscribe,
// the secret shown once, and unsubscribing twice succeeding.
func TestWebhookRoutes(t *testing.T) {
	w := shared(t)
	for _, prefix := range []string{"/v1", "/api/v1"} {
		t.Run(prefix, func(t *testing.T) {
			r := do(t, w.srv.URL, request{Method: "POST", Path: prefix + "/webhooks/subscribe", Token: w.B.Token,
				Body: subscribeBody(map[string]any{"organization_uuid": w.B.OrgID, "agent_uuid": w.B.AgentIDs[0],
					"target_url": publicTarget, "event": "new_conversation", "platform": "make", "external_id": "make-hook-42"})})
			if r.Status != http.StatusOK {
				t.Fatalf("subscribe: %d %s", r.Status, r.Body)
			}
			shape := regexp.MustCompile(`^\{"data":\{"id":"whk_[0-9a-z]{20}","secret":"whsec_[A-Za-z0-9+/]{43}="\},"message":"Webhook subscribed successfully"\}$`)
			if !shape.MatchString(compact(t, r.Body)) {
				t.Errorf("subscribe body %s", r.Body)
			}
			var sub struct{ Data struct{ ID, Secret string } }
			r.json(t, &sub)

			// The secret is never shown again: not in the delivery log.
			var log struct {
				WebhookSubscription map[string]any
			}
			mustGraphQL(t, w, w.B.Token, `query($id: ID!) { webhookSubscription(id: $id) { id targetUrl event platform externalId status } }`,
				map[string]any{"id": sub.Data.ID}, &log)
			got, _ := json.Marshal(log.WebhookSubscription)
			if strings.Contains(string(got), sub.Data.Secret) || !strings.Contains(string(got), `"externalId":"make-hook-42"`) {
				t.Errorf("subscription as read back: %s", got)
			}

			for i := 0; i < 2; i++ {
				r = do(t, w.srv.URL, request{Method: "DELETE", Path: prefix + "/webhooks/unsubscribe/" + sub.Data.ID, Token: w.B.Token})
				if r.Status != http.StatusOK || compact(t, r.Body) != `{"data":null,"message":"Webhook unsubscribed successfully"}` {
					t.Errorf("unsubscribe #%d: %d %s", i+1, r.Status, r.Body)
				}
			}
		})
	}
}

// TestWebhookValidation is the subscribe route's table of bad input.
func TestWebhookValidation(t *testing.T) {
	w := shared(t)
	valid := func(change map[string]any) string {
		f := map[string]any{"organization_uuid": w.B.OrgID, "agent_uuid": w.B.AgentIDs[0],
			"target_url": publicTarget, "event": "human_handoff_required", "platform": "make"}
		for k, v := range change {
			if v == nil {
				delete(f, k)
			} else {
				f[k] = v
			}
		}
		return subscribeBody(f)
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"missing organization", valid(map[string]any{"organization_uuid": nil}), 422, invalid("organization_uuid", "The organization uuid field is required.")},
		{"missing agent", valid(map[string]any{"agent_uuid": nil}), 422, invalid("agent_uuid", "The agent uuid field is required.")},
		{"missing target", valid(map[string]any{"target_url": nil}), 422, invalid("target_url", "The target url field is required.")},
		{"missing event", valid(map[string]any{"event": nil}), 422, invalid("event", "The event field is required.")},
		{"missing platform", valid(map[string]any{"platform": nil}), 422, invalid("platform", "The platform field is required.")},
		{"unknown event", valid(map[string]any{"event": "conversation_closed"}), 422,
			invalid("event", "The selected event is invalid. It must be one of: new_conversation, human_handoff_required.")},
		{"other platform", valid(map[string]any{"platform": "zapier"}), 422, invalid("platform", "The selected platform is invalid. It must be make.")},
		{"http target", valid(map[string]any{"target_url": "http://93.184.216.34/hook"}), 422, invalid("target_url", "The target url must use HTTPS.")},
		{"not a url", valid(map[string]any{"target_url": "hook.integromat.com"}), 422, invalid("target_url", "The target url must be a valid HTTPS URL.")},
		{"loopback target", valid(map[string]any{"target_url": "https://127.0.0.1/hook"}), 422,
			invalid("target_url", "The target url must not point to a loopback, private, link-local or otherwise reserved address.")},
		{"metadata target", valid(map[string]any{"target_url": "https://169.254.169.254/latest"}), 422,
			invalid("target_url", "The target url must not point to a loopback, private, link-local or otherwise reserved address.")},
		{"external id too long", valid(map[string]any{"external_id": strings.Repeat("x", 256)}), 422,
			invalid("external_id", "The external id may not be greater than 255 characters.")},
		{"agent of another workspace", valid(map[string]any{"agent_uuid": w.A.AgentIDs[0]}), 422,
			invalid("agent_uuid", "The selected agent uuid is invalid.")},
		{"organization of another workspace", valid(map[string]any{"organization_uuid": w.A.OrgID}), 422,
			invalid("organization_uuid", "The selected organization uuid is invalid.")},
		{"number for a string", valid(map[string]any{"event": 5}), 422, invalid("event", "The event must be a string.")},
		{"not an object", `["make"]`, 400, `{"error":"Bad request","message":"The request body must be a JSON object."}`},
		{"malformed", `{"platform":`, 400, `{"error":"Bad request","message":"The request body is not valid JSON."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, w.srv.URL, request{Method: "POST", Path: "/v1/webhooks/subscribe", Token: w.B.Token, Body: tt.body})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if got := compact(t, r.Body); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestWebhookCrossTenant: B cannot remove A's subscription, and the answer
// is the one for a subscription that does not exist.
func TestWebhookCrossTenant(t *testing.T) {
	w := shared(t)
	r := do(t, w.srv.URL, request{Method: "POST", Path: "/v1/webhooks/subscribe", Token: w.A.Token,
		Body: subscribeBody(map[string]any{"organization_uuid": w.A.OrgID, "agent_uuid": w.A.AgentIDs[0],
			"target_url": publicTarget, "event": "new_conversation", "platform": "make"})})
	if r.Status != http.StatusOK {
		t.Fatalf("subscribe as A: %d %s", r.Status, r.Body)
	}
	var sub struct{ Data struct{ ID string } }
	r.json(t, &sub)
	foreign := do(t, w.srv.URL, request{Method: "DELETE", Path: "/v1/webhooks/unsubscribe/" + sub.Data.ID, Token: w.B.Token})
	missing := do(t, w.srv.URL, request{Method: "DELETE", Path: "/v1/webhooks/unsubscribe/whk_00000000000000000000", Token: w.B.Token})
	if foreign.Status != http.StatusNotFound || compact(t, foreign.Body) != compact(t, missing.Body) {
		t.Errorf("B unsubscribing A's: %d %s; a missing one: %d %s", foreign.Status, foreign.Body, missing.Status, missing.Body)
	}
	if strings.Contains(string(foreign.Body), sub.Data.ID) {
		t.Errorf("the 404 names the subscription: %s", foreign.Body)
	}
	// A's subscription is intact.
	var log struct{ WebhookSubscription struct{ Status string } }
	mustGraphQL(t, w, w.A.Token, `query($id: ID!) { webhookSubscription(id: $id) { status } }`, map[string]any{"id": sub.Data.ID}, &log)
	if log.WebhookSubscription.Status != "ACTIVE" {
		t.Errorf("A's subscription after B's attempt: %+v", log)
	}
}

// mustGraphQL runs a GraphQL operation on the test server with token and
// decodes its data into v.
func mustGraphQL(t *testing.T, w *world, token, query string, vars map[string]any, v any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("GraphQL: %v %v", err, out.Errors)
	}
	if err := json.Unmarshal(out.Data, v); err != nil {
		t.Fatal(err)
	}
}
