package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/postgres"
)

// Helpers of the Conversations API tests. They work in a workspace of
// their own (C), so the seed-000 golden files of workspace A never see
// their conversations.

var (
	convOnce sync.Once
	convWS   workspace
	convErr  error
	// convMember is a second user of workspace C (an assignee).
	convMember workspace
)

// convWorkspace returns workspace C: a user with a token holding every
// scope, two agents (oldest first) and a second member.
func convWorkspace(t testing.TB) (*world, workspace) {
	t.Helper()
	w := shared(t)
	convOnce.Do(func() {
		ctx := context.Background()
		u, org, agent, err := w.app.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{Email: "bill@initech.example",
			Password: "initech-password", Name: "Bill Lumbergh", OrganizationName: "Initech", AgentName: "Initech Support"})
		if err != nil {
			convErr = err
			return
		}
		convWS = workspace{UserID: u.ID, UserName: u.Name, Email: u.Email, OrgID: org.ID, OrgName: org.Name, AgentIDs: []string{agent.ID}}
		second, err := w.app.Services.Agents.CreateAgent(convWS.as(), org.ID, "Initech Sales")
		if err != nil {
			convErr = err
			return
		}
		convWS.AgentIDs = append(convWS.AgentIDs, second.ID)
		if convWS.Token, _, err = w.app.Tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: u.ID, Scopes: assistloop.AllScopes}); err != nil {
			convErr = err
			return
		}
		m, _, _, err := w.app.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{Email: "milton@initech.example",
			Password: "initech-password", Name: "Milton Waddams", OrganizationName: "Milton's", AgentName: "Stapler"})
		if err != nil {
			convErr = err
			return
		}
		if _, err := w.db.ExecContext(ctx, "INSERT INTO memberships (organization_id, user_id, role) VALUES (?, ?, 'member')", org.ID, m.ID); err != nil {
			convErr = err
			return
		}
		convMember = workspace{UserID: m.ID, UserName: m.Name, Email: m.Email, OrgID: org.ID}
	})
	if convErr != nil {
		t.Fatalf("workspace C: %v", convErr)
	}
	return w, convWS
}

// startConversation starts a conversation of workspace C's first agent
// with a customer and a first message.
func startConversation(t testing.TB, w *world, ws workspace, customer, email, content string) (string, string) {
	t.Helper()
	in := assistloop.StartConversationInput{AgentID: ws.AgentIDs[0], Content: content, ChatUser: &assistloop.ChatUserInput{}}
	if customer != "" {
		in.ChatUser.Name = &customer
	}
	if email != "" {
		in.ChatUser.Email = &email
	}
	c, _, err := w.app.Services.Conversations.StartConversation(ws.as(), in)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID.String(), *c.ChatUserID
}

var (
	epochMillis = regexp.MustCompile(`("(?:dateAdded|dateUpdated|lastMessageDate)":)[0-9]{13}`)
	epochSecs   = regexp.MustCompile(`("scheduledTimestamp":)[0-9]{10}`)
	milliStamp  = regexp.MustCompile(`"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"`)
	attID       = regexp.MustCompile(`att_[0-9a-z]{20}`)
	cursorValue = regexp.MustCompile(`("nextCursor":)"[A-Za-z0-9_-]+"`)
)

// checkConvGolden compares a Conversations API body with its golden file,
// after replacing what normalize does not know: epoch times, millisecond
// timestamps, attachment ids and cursors.
func checkConvGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	s := compact(t, body)
	s = epochMillis.ReplaceAllString(s, `$1"<epoch.ms>"`)
	s = epochSecs.ReplaceAllString(s, `$1"<epoch.s>"`)
	s = milliStamp.ReplaceAllString(s, `"<timestamp.ms>"`)
	s = cursorValue.ReplaceAllString(s, `$1"<cursor>"`)
	seen := map[string]string{}
	s = attID.ReplaceAllStringFunc(s, func(m string) string {
		if _, ok := seen[m]; !ok {
			seen[m] = fmt.Sprintf("<att-%d>", len(seen)+1)
		}
		return seen[m]
	})
	checkGolden(t, name, []byte(s))
}

// jsonBody encodes v.
func jsonBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// filePart is one part of a multipart upload.
type filePart struct {
	field, name, contentType string
	data                     []byte
}

// multipartBody builds an upload: plain fields first, then the files.
func multipartBody(t testing.TB, fields map[string]string, files ...filePart) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, k := range []string{"locationId", "conversationId"} {
		if v, ok := fields[k]; ok {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name)}
		if f.contentType != "" {
			h["Content-Type"] = []string{f.contentType}
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), mw.FormDataContentType()
}

// Test files: real magic numbers, so sniffing finds the type.
var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0}, 64)...)
	wavBytes = append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), bytes.Repeat([]byte{1}, 64)...)
	pdfBytes = []byte("%PDF-1.4\n% test\n")
	htmlPage = []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
)

// upload sends files for a conversation of workspace ws and returns the
// response.
func upload(t testing.TB, w *world, token, org, conv string, files ...filePart) *response {
	t.Helper()
	body, ct := multipartBody(t, map[string]string{"locationId": org, "conversationId": conv}, files...)
	return do(t, w.srv.URL, request{Method: "POST", Path: "/v1/conversations/messages/upload", Token: token, Body: body, ContentType: ct})
}

// uploadedIDs returns the attachment ids of an upload response.
func uploadedIDs(t testing.TB, r *response) []string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var out struct{ Attachments []struct{ ID string } }
	r.json(t, &out)
	ids := make([]string, len(out.Attachments))
	for i, a := range out.Attachments {
		ids[i] = a.ID
	}
	return ids
}

// rawGet fetches a path without the OpenAPI check (file downloads).
func rawGet(t testing.TB, w *world, token, path string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// sendDue sends every due scheduled message once, as the scheduler would.
func sendDue(t testing.TB, w *world) int {
	t.Helper()
	ctx := assistloop.NewSystemContext(context.Background())
	s := postgres.NewMessageScheduler(w.app.Store)
	jobs, err := s.ClaimDueMessages(ctx, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		sent, err := s.SendScheduledMessage(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		if sent {
			n++
		}
	}
	return n
}

// contains reports whether body contains s.
func contains(body []byte, s string) bool { return strings.Contains(string(body), s) }
