package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// BenchmarkTokenRefresh measures one refresh_token grant over HTTP:
// client authentication, the rotation transaction and the response.
func BenchmarkTokenRefresh(b *testing.B) {
	e := newEnv(b)
	code := e.directCode()
	status, _, tok := e.post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {makeCallback}, "client_id": {e.Make.ID}, "client_secret": {e.MakeSecret}}, nil)
	if status != http.StatusOK {
		b.Fatalf("token: %d %v", status, tok)
	}
	refresh := tok["refresh_token"].(string)
	b.ResetTimer()
	for b.Loop() {
		status, _, body := e.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}},
			[]string{e.Make.ID, e.MakeSecret})
		if status != http.StatusOK {
			b.Fatalf("refresh: %d %v", status, body)
		}
		refresh = body["refresh_token"].(string)
	}
}

// BenchmarkCodeExchange measures one authorization_code grant over HTTP.
// The codes are issued beforehand through the service.
func BenchmarkCodeExchange(b *testing.B) {
	e := newEnv(b)
	codes := make([]string, 0, 1024)
	b.ResetTimer()
	for b.Loop() {
		if len(codes) == 0 {
			b.StopTimer()
			for range cap(codes) {
				codes = append(codes, e.directCode())
			}
			b.StartTimer()
		}
		code := codes[len(codes)-1]
		codes = codes[:len(codes)-1]
		status, _, body := e.post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {makeCallback}, "client_id": {e.Make.ID}, "client_secret": {e.MakeSecret}}, nil)
		if status != http.StatusOK {
			b.Fatalf("token: %d %v", status, body)
		}
	}
}

// BenchmarkAuthorizeJSON measures a sign-in and approval posted as JSON;
// the argon2id password check dominates it, by design.
func BenchmarkAuthorizeJSON(b *testing.B) {
	e := newEnv(b)
	body := `{"response_type":"code","client_id":"` + e.Make.ID + `","redirect_uri":"` + makeCallback +
		`","email":"` + e.User.Email + `","password":"` + userPassword + `"}`
	client := browser()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/oauth/authorize", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// directCode issues an authorization code for the Make client through the
// service, skipping the sign-in.
func (e *env) directCode() string {
	code := auth.NewSecret(auth.AuthCodePrefix)
	_, err := e.App.OAuth.CreateAuthorizationCode(context.Background(), assistloop.CreateAuthorizationCodeInput{
		Code: code, ClientID: e.Make.ID, UserID: e.User.ID, RedirectURI: makeCallback,
		Scopes: assistloop.DefaultScopes, TTL: 10 * time.Minute,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}
