package rest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/rest"
)

// routeCall is a valid call of each route, in workspace B.
func routeCalls(t *testing.T, w *world) map[string]request {
	t.Helper()
	conv, _, err := w.app.Services.Conversations.StartConversation(w.B.as(), assistloop.StartConversationInput{
		AgentID: w.B.AgentIDs[0], Content: "scope target"})
	if err != nil {
		t.Fatal(err)
	}
	c := conv.ID.String()
	target, org, agent, event, platform := "https://93.184.216.34/hook", w.B.OrgID, w.B.AgentIDs[0], "new_conversation", "make"
	sub, err := w.app.Services.Webhooks.SubscribeWebhook(w.B.as(), assistloop.SubscribeWebhookInput{
		OrganizationID: &org, AgentID: &agent, TargetURL: &target, Event: &event, Platform: &platform})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]request{
		"/webhooks/subscribe": {Method: "POST", Path: "/v1/webhooks/subscribe", Body: `{"organization_uuid":"` + org +
			`","agent_uuid":"` + agent + `","target_url":"` + target + `","event":"new_conversation","platform":"make"}`},
		"/webhooks/unsubscribe/{uuid}":              {Method: "DELETE", Path: "/v1/webhooks/unsubscribe/" + sub.ID},
		"/oauth/me":                                 {Method: "GET", Path: "/v1/oauth/me"},
		"/my/organizations":                         {Method: "GET", Path: "/v1/my/organizations"},
		"/organizations/{organization_uuid}/agents": {Method: "GET", Path: "/v1/organizations/" + w.B.OrgID + "/agents"},
		"/automation/agents/{agentUuid}/conversations/list": {Method: "GET",
			Path: "/v1/automation/agents/" + w.B.AgentIDs[0] + "/conversations/list"},
		"/automation/agents/{agentUuid}/conversations/recent-sample": {Method: "GET",
			Path: "/v1/automation/agents/" + w.B.AgentIDs[0] + "/conversations/recent-sample"},
		"/automation/conversations/{conversationUuid}/close": {Method: "POST",
			Path: "/v1/automation/conversations/" + c + "/close", Body: `{"platform":"make"}`},
		"/automation/conversations/{conversationUuid}/messages/find": {Method: "GET",
			Path: "/v1/automation/conversations/" + c + "/messages/find"},
		"/automation/conversations/{conversationUuid}/reply": {Method: "POST",
			Path: "/v1/automation/conversations/" + c + "/reply", Body: `{"content":"scoped reply"}`},
	}
	for k, v := range convRouteCalls(t, w) {
		calls[k] = v
	}
	return calls
}

// TestScopes: each route needs exactly the contract's scope (§4): without
// it 403 with the scope named, with only it 200.
func TestScopes(t *testing.T) {
	w := shared(t)
	want := map[string]assistloop.Scope{
		"/oauth/me":         "",
		"/my/organizations": "",
		"/organizations/{organization_uuid}/agents":                  "",
		"/automation/agents/{agentUuid}/conversations/list":          assistloop.ScopeReadConversations,
		"/automation/agents/{agentUuid}/conversations/recent-sample": assistloop.ScopeReadConversations,
		"/automation/conversations/{conversationUuid}/messages/find": assistloop.ScopeReadMessages,
		"/automation/conversations/{conversationUuid}/reply":         assistloop.ScopeWriteConversations,
		"/automation/conversations/{conversationUuid}/close":         assistloop.ScopeWriteConversations,
		"/webhooks/subscribe":          assistloop.ScopeManageWebhooks,
		"/webhooks/unsubscribe/{uuid}": assistloop.ScopeManageWebhooks,
	}
	for k, v := range convRouteScopes {
		want[k] = v
	}
	calls := routeCalls(t, w)
	routes := rest.Routes()
	if len(routes) != len(want) {
		t.Fatalf("%d routes, the contract has %d", len(routes), len(want))
	}
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			scope, ok := want[rt.Method+" "+rt.Pattern]
			if !ok {
				scope, ok = want[rt.Pattern]
			}
			if !ok {
				t.Fatalf("route %s is not in the contract", rt.Pattern)
			}
			if rt.Scope != scope {
				t.Errorf("route needs %q, the contract says %q", rt.Scope, scope)
			}
			call, ok := calls[rt.Method+" "+rt.Pattern]
			if !ok {
				call = calls[rt.Pattern]
			}
			// A token with a scope the route does not need.
			call.Token = w.token(t, w.B.UserID, nil, unrelatedScope(scope))
			r := do(t, w.srv.URL, call)
			if scope == "" {
				if r.Status != http.StatusOK {
					t.Errorf("without scopes: status %d, want 200: %s", r.Status, r.Body)
				}
				return
			}
			wantBody := `{"error":"Forbidden","message":"The access token does not have the \"` + string(scope) + `\" scope required for this request."}`
			if r.Status != http.StatusForbidden || compact(t, r.Body) != wantBody {
				t.Errorf("without %s: %d %s, want 403 %s", scope, r.Status, r.Body, wantBody)
			}
			// 403 comes before validation: a bad request without the scope
			// is still 403.
			bad := call
			bad.Path += "?per_page=1"
			bad.Body = strings.Replace(bad.Body, `"make"`, `"zapier"`, 1)
			if r := do(t, w.srv.URL, bad); r.Status != http.StatusForbidden {
				t.Errorf("invalid request without %s: status %d, want 403", scope, r.Status)
			}
			call.Token = w.token(t, w.B.UserID, nil, scope)
			if r := do(t, w.srv.URL, call); r.Status/100 != 2 {
				t.Errorf("with only %s: status %d, want 200: %s", scope, r.Status, r.Body)
			}
		})
	}
}

// TestDocumentsCheckScopes: each route's GraphQL document itself requires
// the route's scope, so the REST check and the schema's @hasScope agree.
func TestDocumentsCheckScopes(t *testing.T) {
	w := shared(t)
	conv := newestConversation(t, w, w.B.Token, w.B.AgentIDs[0], "Marge")
	vars := map[string]map[string]any{
		"/oauth/me":         nil,
		"/my/organizations": {"first": 10, "offset": 0},
		"/organizations/{organization_uuid}/agents":                  {"organizationUuid": w.B.OrgID, "first": 10, "offset": 0},
		"/automation/agents/{agentUuid}/conversations/list":          {"agentUuid": w.B.AgentIDs[0], "filter": map[string]any{}, "first": 10, "offset": 0},
		"/automation/agents/{agentUuid}/conversations/recent-sample": {"agentUuid": w.B.AgentIDs[0], "type": "NEW_CONVERSATION", "limit": 1},
		"/automation/conversations/{conversationUuid}/messages/find": {"conversationUuid": conv, "filter": map[string]any{}, "first": 10, "offset": 0},
		"/automation/conversations/{conversationUuid}/reply":         {"conversationUuid": conv, "content": "x"},
		"/automation/conversations/{conversationUuid}/close":         {"conversationUuid": conv},
		"/webhooks/subscribe":          {"input": map[string]any{}},
		"/webhooks/unsubscribe/{uuid}": {"id": "whk_missing"},
	}
	for k, v := range convDocumentVars(w, conv) {
		vars[k] = v
	}
	for _, rt := range rest.Routes() {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			// A principal without any scope.
			ctx := assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: w.B.UserID, Scopes: []assistloop.Scope{}})
			v, ok := vars[rt.Method+" "+rt.Pattern]
			if !ok {
				v = vars[rt.Pattern]
			}
			err := rest.ExecuteRoute(ctx, w.app.Executor, rt.Method, rt.Pattern, v)
			got := assistloop.ErrorCode(err)
			if rt.Scope == "" && got != "" {
				t.Errorf("document fails without scopes: %v", err)
			}
			if rt.Scope != "" && got != assistloop.EFORBIDDEN {
				t.Errorf("document without %s: %v, want forbidden", rt.Scope, err)
			}
		})
	}
}

// unrelatedScope is a scope other than s.
func unrelatedScope(s assistloop.Scope) assistloop.Scope {
	if s == assistloop.ScopeManageWebhooks {
		return assistloop.ScopeReadMessages
	}
	return assistloop.ScopeManageWebhooks
}
