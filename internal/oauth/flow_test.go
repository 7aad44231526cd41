package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/assistloop/assistloop/internal/demo"
)

var everyScope = []string{"read:conversations", "read:messages", "manage:webhooks", "write:conversations"}

// TestAuthorizationCodeFlow runs the whole flow with golang.org/x/oauth2
// (form-encoded token requests, PKCE): authorize, code, token, the viewer
// behind /oauth/me, refresh, and the old refresh token refused.
func TestAuthorizationCodeFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	conf := e.config(e.Make, e.MakeSecret, everyScope...)
	verifier := oauth2.GenerateVerifier()

	code := e.code(conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier)))
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	checkTokenResponse(t, tok, strings.Join(everyScope, " "))

	status, viewer := e.viewer(tok.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("viewer with the new access token: status %d", status)
	}
	user := viewer["user"].(map[string]any)
	if user["uuid"] != e.User.ID || user["name"] != e.User.Name || user["email"] != e.User.Email {
		t.Errorf("viewer user = %v, want %s %s %s", user, e.User.ID, e.User.Name, e.User.Email)
	}
	if got, want := len(viewer["scopes"].([]any)), 4; got != want {
		t.Errorf("viewer scopes = %v, want %d", viewer["scopes"], want)
	}
	e.wantMe(tok.AccessToken) // Make's connection test

	// Refresh, as Make does when the access token has expired.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	checkTokenResponse(t, refreshed, strings.Join(everyScope, " "))
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh did not issue a new access token and a new refresh token")
	}
	if status, _ := e.viewer(refreshed.AccessToken); status != http.StatusOK {
		t.Errorf("viewer with the refreshed access token: status %d, want 200", status)
	}
	e.wantMe(refreshed.AccessToken)
	if status, _ := e.me(tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("/api/v1/oauth/me with the replaced access token: status %d, want 401", status)
	}
	if status, _ := e.viewer(tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("viewer with the replaced access token: status %d, want 401", status)
	}

	// The rotated refresh token is refused, and presenting it revoked the
	// whole grant (RFC 9700 §4.14.2).
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	wantRetrieveError(t, err, "invalid_grant")
	if status, _ := e.viewer(refreshed.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("viewer after refresh-token reuse: status %d, want 401", status)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	wantRetrieveError(t, err, "invalid_grant")
}

// TestTokenRequestJSON sends the token requests as Make does ("Token
// Request Method: POST (JSON)", credentials in the body, no PKCE) and
// checks the RFC 6749 response field by field.
func TestTokenRequestJSON(t *testing.T) {
	e := newEnv(t)
	code := e.code(e.authURL(map[string]string{
		"response_type": "code", "client_id": e.Make.ID, "redirect_uri": integromatCallback,
		"scope": strings.Join(everyScope, " "), "state": "make-state",
	}))
	status, header, body := e.post("/oauth/token", map[string]string{
		"grant_type": "authorization_code", "code": code, "redirect_uri": integromatCallback,
		"client_id": e.Make.ID, "client_secret": e.MakeSecret,
	}, nil)
	if status != http.StatusOK {
		t.Fatalf("token: status %d, body %v", status, body)
	}
	checkTokenBody(t, header, body, strings.Join(everyScope, " "))
	if status, _ := e.viewer(body["access_token"].(string)); status != http.StatusOK {
		t.Errorf("viewer: status %d, want 200", status)
	}
	e.wantMe(body["access_token"].(string))

	status, header, refreshed := e.post("/oauth/token", map[string]string{
		"grant_type": "refresh_token", "refresh_token": body["refresh_token"].(string),
		"client_id": e.Make.ID, "client_secret": e.MakeSecret,
	}, nil)
	if status != http.StatusOK {
		t.Fatalf("refresh: status %d, body %v", status, refreshed)
	}
	checkTokenBody(t, header, refreshed, strings.Join(everyScope, " "))
	if status, _ := e.viewer(refreshed["access_token"].(string)); status != http.StatusOK {
		t.Errorf("viewer after refresh: status %d, want 200", status)
	}

	// The same refresh token a second time: invalid_grant, as JSON.
	status, header, again := e.post("/oauth/token", map[string]string{
		"grant_type": "refresh_token", "refresh_token": body["refresh_token"].(string),
		"client_id": e.Make.ID, "client_secret": e.MakeSecret,
	}, nil)
	if status != http.StatusBadRequest || again["error"] != "invalid_grant" || header.Get("Cache-Control") != "no-store" {
		t.Errorf("reused refresh token: status %d, body %v, Cache-Control %q; want 400 invalid_grant no-store",
			status, again, header.Get("Cache-Control"))
	}
}

// TestTokenRequestFormWithBasicAuth redeems a code form-encoded with the
// client's credentials in HTTP Basic, which x/oauth2 does not choose on
// its own every time.
func TestTokenRequestFormWithBasicAuth(t *testing.T) {
	e := newEnv(t)
	code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
	status, header, body := e.post("/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {makeCallback},
	}, []string{e.Make.ID, e.MakeSecret})
	if status != http.StatusOK {
		t.Fatalf("token: status %d, body %v", status, body)
	}
	// No scope requested: the three defaults.
	checkTokenBody(t, header, body, "read:conversations read:messages manage:webhooks")
}

// TestDemoClientMakeCallbacks completes the flow with the demo client for
// both of Make's registered callbacks.
func TestDemoClientMakeCallbacks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := demo.Load(ctx, demo.Services{
		Users: e.App.Services.Users, Organizations: e.App.Services.Organizations, Agents: e.App.Services.Agents,
		Conversations: e.App.Services.Conversations, Tokens: e.App.Tokens, Clients: e.App.Clients,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OAuthClient.ClientID != demo.ClientID {
		t.Fatalf("demo client id = %q, want %q", res.OAuthClient.ClientID, demo.ClientID)
	}
	demoUser, err := e.App.Services.Users.AuthenticateUser(ctx, demo.Email, demo.Password)
	if err != nil {
		t.Fatal(err)
	}
	for _, cb := range []string{integromatCallback, makeCallback} {
		t.Run(cb, func(t *testing.T) {
			b := browser()
			_, form := consentForm(t, b, e.authURL(map[string]string{
				"response_type": "code", "client_id": demo.ClientID, "redirect_uri": cb, "state": "s",
			}))
			form.Set("email", demo.Email)
			form.Set("password", demo.Password)
			resp, err := b.PostForm(e.URL+"/api/v1/oauth/authorize", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			q := redirectQuery(t, resp)
			if !strings.HasPrefix(resp.Header.Get("Location"), cb+"?") {
				t.Errorf("redirect to %q, want %s?…", resp.Header.Get("Location"), cb)
			}
			status, _, body := e.post("/oauth/token", map[string]string{
				"grant_type": "authorization_code", "code": q.Get("code"), "redirect_uri": cb,
				"client_id": demo.ClientID, "client_secret": res.OAuthClient.ClientSecret,
			}, nil)
			if status != http.StatusOK {
				t.Fatalf("token: status %d, body %v", status, body)
			}
			_, viewer := e.viewer(body["access_token"].(string))
			if got := viewer["user"].(map[string]any)["uuid"]; got != demoUser.ID {
				t.Errorf("viewer uuid = %v, want %s", got, demoUser.ID)
			}
		})
	}
}

// TestJSONAuthorize posts the authorization request with the user's
// credentials as JSON, which needs no CSRF token.
func TestJSONAuthorize(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/oauth/authorize", "/api/v1/oauth/authorize"} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(`{"response_type":"code","client_id":"`+
			e.Make.ID+`","redirect_uri":"`+makeCallback+`","scope":"read:conversations","state":"xyz","email":"`+
			e.User.Email+`","password":"`+userPassword+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := browser().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		q := redirectQuery(t, resp)
		if q.Get("code") == "" || q.Get("state") != "xyz" {
			t.Errorf("%s: redirect query %v, want a code and state xyz", path, q)
		}
	}
}

func checkTokenResponse(t *testing.T, tok *oauth2.Token, scope string) {
	t.Helper()
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Errorf("token = type %q, access %t, refresh %t; want Bearer with both tokens", tok.TokenType, tok.AccessToken != "", tok.RefreshToken != "")
	}
	if got := tok.Extra("expires_in"); got != float64(3600) {
		t.Errorf("expires_in = %v, want 3600", got)
	}
	if got := tok.Extra("scope"); got != scope {
		t.Errorf("scope = %v, want %q", got, scope)
	}
}

func checkTokenBody(t *testing.T, h http.Header, body map[string]any, scope string) {
	t.Helper()
	if h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache", h.Get("Cache-Control"), h.Get("Pragma"))
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q", h.Get("Content-Type"))
	}
	want := map[string]bool{"access_token": true, "token_type": true, "expires_in": true, "refresh_token": true, "scope": true}
	for k := range body {
		if !want[k] {
			t.Errorf("unexpected field %q in token response", k)
		}
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["scope"] != scope {
		t.Errorf("token response = %v; want Bearer, 3600, %q", body, scope)
	}
	for _, k := range []string{"access_token", "refresh_token"} {
		if s, _ := body[k].(string); len(s) < 40 {
			t.Errorf("%s = %v, want a token", k, body[k])
		}
	}
	if !strings.HasPrefix(body["access_token"].(string), "alat_") || !strings.HasPrefix(body["refresh_token"].(string), "alrt_") {
		t.Errorf("tokens lack their recognisable prefixes")
	}
}

func wantRetrieveError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want an OAuth error %s", err, code)
	}
	if re.ErrorCode != code {
		t.Errorf("error code = %q (%s), want %q", re.ErrorCode, re.ErrorDescription, code)
	}
	if re.Response.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error response Cache-Control = %q, want no-store", re.Response.Header.Get("Cache-Control"))
	}
}
