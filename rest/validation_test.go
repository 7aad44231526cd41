package rest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// invalid is the 422 body for one problem with one field.
func invalid(field, problem string) string {
	f, _ := json.Marshal(field)
	p, _ := json.Marshal(problem)
	return `{"error":"Validation error","message":` + string(p) + `,"errors":{` + string(f) + `:[` + string(p) + `]}}`
}

// TestValidation is the full table of bad input: every one gets a 4xx with
// the contract's error body, field by field.
func TestValidation(t *testing.T) {
	w := shared(t)
	agent := w.B.AgentIDs[0]
	conv, _, err := w.app.Services.Conversations.StartConversation(w.B.as(), assistloop.StartConversationInput{
		AgentID: agent, Content: "validation target"})
	if err != nil {
		t.Fatal(err)
	}
	list := "/v1/automation/agents/" + agent + "/conversations/list"
	sample := "/v1/automation/agents/" + agent + "/conversations/recent-sample"
	find := "/v1/automation/conversations/" + conv.ID.String() + "/messages/find"
	reply := "/v1/automation/conversations/" + conv.ID.String() + "/reply"
	closePath := "/v1/automation/conversations/" + conv.ID.String() + "/close"
	orgs := "/v1/my/organizations"
	agents := "/v1/organizations/" + w.B.OrgID + "/agents"
	tooLong := strings.Repeat("é", assistloop.MaxContentLength+1)

	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		status      int
		want        string
	}{
		// per_page: integer, 10..100.
		{"per_page below 10", "GET", list + "?per_page=9", "", "", 422, invalid("per_page", "The per page must be between 10 and 100.")},
		{"per_page above 100", "GET", list + "?per_page=101", "", "", 422, invalid("per_page", "The per page must be between 10 and 100.")},
		{"per_page zero", "GET", list + "?per_page=0", "", "", 422, invalid("per_page", "The per page must be between 10 and 100.")},
		{"per_page not a number", "GET", list + "?per_page=abc", "", "", 422, invalid("per_page", "The per page must be an integer.")},
		{"per_page fraction", "GET", list + "?per_page=10.5", "", "", 422, invalid("per_page", "The per page must be an integer.")},
		{"per_page huge", "GET", list + "?per_page=99999999999999999999", "", "", 422, invalid("per_page", "The per page must be an integer.")},
		{"page zero", "GET", list + "?page=0", "", "", 422, invalid("page", "The page must be between 1 and 100000.")},
		{"page negative", "GET", list + "?page=-1", "", "", 422, invalid("page", "The page must be between 1 and 100000.")},
		{"page not a number", "GET", list + "?page=two", "", "", 422, invalid("page", "The page must be an integer.")},
		{"page beyond the cap", "GET", list + "?page=100001", "", "", 422, invalid("page", "The page must be between 1 and 100000.")},
		// status: 0 or 1.
		{"status 2", "GET", list + "?status=2", "", "", 422, invalid("status", "The selected status is invalid.")},
		{"status true", "GET", list + "?status=true", "", "", 422, invalid("status", "The selected status is invalid.")},
		{"status open", "GET", list + "?status=open", "", "", 422, invalid("status", "The selected status is invalid.")},
		// response_mode: ai or human.
		{"response_mode robot", "GET", list + "?response_mode=robot", "", "", 422, invalid("response_mode", "The selected response mode is invalid.")},
		{"response_mode upper case", "GET", list + "?response_mode=AI", "", "", 422, invalid("response_mode", "The selected response mode is invalid.")},
		// ISO 8601 dates.
		{"created_from not a date", "GET", list + "?created_from=yesterday", "", "", 422, invalid("created_from", "The created from is not a valid date.")},
		{"created_from month 13", "GET", list + "?created_from=2024-13-01", "", "", 422, invalid("created_from", "The created from is not a valid date.")},
		{"created_from US format", "GET", list + "?created_from=11/12/2024", "", "", 422, invalid("created_from", "The created from is not a valid date.")},
		{"created_to day 32", "GET", list + "?created_to=2024-01-32", "", "", 422, invalid("created_to", "The created to is not a valid date.")},
		{"created_to bad zone", "GET", list + "?created_to=2024-11-12T10:30:00+25:00", "", "", 422, invalid("created_to", "The created to is not a valid date.")},
		{"created_to before created_from", "GET", list + "?created_from=2024-11-12&created_to=2024-11-11", "", "", 422,
			invalid("created_to", "The created to must be a date after or equal to created from.")},
		{"every list problem at once", "GET", list + "?per_page=5&page=0&status=9&response_mode=x&created_from=x&created_to=y", "", "", 422,
			`{"error":"Validation error","message":"The created from is not a valid date. (and 5 more errors)","errors":{` +
				`"created_from":["The created from is not a valid date."],"created_to":["The created to is not a valid date."],` +
				`"page":["The page must be between 1 and 100000."],"per_page":["The per page must be between 10 and 100."],` +
				`"response_mode":["The selected response mode is invalid."],"status":["The selected status is invalid."]}}`},
		// Find Messages.
		{"find per_page", "GET", find + "?per_page=200", "", "", 422, invalid("per_page", "The per page must be between 10 and 100.")},
		{"find created_from", "GET", find + "?created_from=2024-11-12T25:00:00Z", "", "", 422, invalid("created_from", "The created from is not a valid date.")},
		{"find created_to before created_from", "GET", find + "?created_from=2024-11-12T10:00:00Z&created_to=2024-11-12T09:00:00Z", "", "", 422,
			invalid("created_to", "The created to must be a date after or equal to created from.")},
		// Recent samples: limit 1..10, type.
		{"limit zero", "GET", sample + "?limit=0", "", "", 422, invalid("limit", "The limit must be between 1 and 10.")},
		{"limit above 10", "GET", sample + "?limit=11", "", "", 422, invalid("limit", "The limit must be between 1 and 10.")},
		{"limit not a number", "GET", sample + "?limit=five", "", "", 422, invalid("limit", "The limit must be an integer.")},
		{"type unknown", "GET", sample + "?type=conversation_closed", "", "", 422, invalid("type", "The selected type is invalid.")},
		// Dropdowns page too.
		{"organizations per_page", "GET", orgs + "?per_page=5", "", "", 422, invalid("per_page", "The per page must be between 10 and 100.")},
		{"agents page", "GET", agents + "?page=abc", "", "", 422, invalid("page", "The page must be an integer.")},
		// Close: {"platform": "make"}.
		{"close without body", "POST", closePath, "", "", 422, invalid("platform", "The platform field is required.")},
		{"close empty object", "POST", closePath, `{}`, "", 422, invalid("platform", "The platform field is required.")},
		{"close null platform", "POST", closePath, `{"platform": null}`, "", 422, invalid("platform", "The platform field is required.")},
		{"close empty platform", "POST", closePath, `{"platform": ""}`, "", 422, invalid("platform", "The platform field is required.")},
		{"close other platform", "POST", closePath, `{"platform": "zapier"}`, "", 422, invalid("platform", "The selected platform is invalid.")},
		{"close platform upper case", "POST", closePath, `{"platform": "Make"}`, "", 422, invalid("platform", "The selected platform is invalid.")},
		{"close platform not a string", "POST", closePath, `{"platform": 1}`, "", 422, invalid("platform", "The platform must be a string.")},
		{"close form without platform", "POST", closePath, `reason=done`, "application/x-www-form-urlencoded", 422, invalid("platform", "The platform field is required.")},
		// Reply: content required, a string, bounded.
		{"reply without body", "POST", reply, "", "", 422, invalid("content", "The content field is required.")},
		{"reply empty content", "POST", reply, `{"content": ""}`, "", 422, invalid("content", "The content field is required.")},
		{"reply blank content", "POST", reply, `{"content": " \n\t "}`, "", 422, invalid("content", "The content field is required.")},
		{"reply content a number", "POST", reply, `{"content": 5}`, "", 422, invalid("content", "The content must be a string.")},
		{"reply content an object", "POST", reply, `{"content": {"text": "hi"}}`, "", 422, invalid("content", "The content must be a string.")},
		{"reply content too long", "POST", reply, `{"content": "` + tooLong + `"}`, "", 422, invalid("content", "The content may not be greater than 10000 characters.")},
		// Bodies the API cannot read.
		{"malformed JSON", "POST", reply, `{"content": `, "", 400, `{"error":"Bad request","message":"The request body is not valid JSON."}`},
		{"JSON array", "POST", reply, `["hello"]`, "", 400, `{"error":"Bad request","message":"The request body must be a JSON object."}`},
		{"JSON string", "POST", closePath, `"make"`, "", 400, `{"error":"Bad request","message":"The request body must be a JSON object."}`},
		{"unsupported media type", "POST", reply, `content=hello`, "text/plain", 415,
			`{"error":"Unsupported media type","message":"The request body must be JSON (application/json) or a form (application/x-www-form-urlencoded)."}`},
		{"body above 64 KiB", "POST", reply, `{"content": "` + strings.Repeat("a", 70<<10) + `"}`, "", 413,
			`{"error":"Payload too large","message":"The request body may not be larger than 64 KiB."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, w.srv.URL, request{Method: tt.method, Path: tt.path, Token: w.B.Token, Body: tt.body, ContentType: tt.contentType})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if got := compact(t, r.Body); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}

	// Nothing above changed the conversation.
	page, err := w.app.Services.Messages.ListMessages(w.B.as(), assistloop.MessageFilter{ConversationID: conv.ID}, assistloop.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 {
		t.Errorf("the conversation has %d messages after refused requests, want 1", len(page.Messages))
	}
	c, err := w.app.Services.Conversations.FindConversation(w.B.as(), conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != assistloop.ConversationOpen {
		t.Errorf("the conversation is %s after refused closes, want open", c.Status)
	}
}

// TestValidAcceptedInput: the forms of each parameter the API accepts.
func TestValidAcceptedInput(t *testing.T) {
	w := shared(t)
	list := "/v1/automation/agents/" + w.B.AgentIDs[0] + "/conversations/list"
	for _, q := range []string{
		"", "?per_page=10", "?per_page=100", "?page=1&per_page=20", "?status=0", "?status=1", "?status=",
		"?response_mode=ai", "?response_mode=human", "?created_from=2024-11-12", "?created_from=2024-11-12T10:30:00Z",
		"?created_from=2024-11-12T10:30:00.123456Z", "?created_from=2024-11-12T12:30:00%2B02:00", "?created_from=2024-11-12T12:30:00-0500",
		"?created_from=2024-11-12T10:30Z", "?created_from=2024-11-12T10:30:00", "?created_from=2024-11-12+10:30:00",
		"?created_to=2024-11-12&created_from=2024-11-12", "?unknown=ignored",
	} {
		r := do(t, w.srv.URL, request{Path: list + q, Token: w.B.Token})
		if r.Status != http.StatusOK {
			t.Errorf("%s: status %d: %s", q, r.Status, r.Body)
		}
	}
}

// TestErrorBodies: every error carries exactly error and message (and
// errors on 422), never anything internal.
func TestErrorBodies(t *testing.T) {
	w := shared(t)
	for _, tt := range []struct {
		name   string
		req    request
		status int
	}{
		{"no token", request{Path: "/v1/oauth/me"}, 401},
		{"unknown token", request{Path: "/v1/oauth/me", Token: "alat_nope"}, 401},
		{"unknown route", request{Path: "/v1/automation/nothing", Token: w.A.Token}, 404},
		{"wrong method", request{Method: http.MethodDelete, Path: "/v1/oauth/me", Token: w.A.Token}, 405},
		{"malformed conversation id", request{Path: "/v1/automation/conversations/not-a-uuid/messages/find", Token: w.A.Token}, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, w.srv.URL, tt.req)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			var body map[string]any
			r.json(t, &body)
			if len(body) != 2 || body["error"] == "" || body["message"] == "" {
				t.Errorf("body %s: want exactly error and message", r.Body)
			}
			if tt.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}
