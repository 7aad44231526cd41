package oauth_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/oauth"
)

// TestConsentPage: the GET renders an accessible sign-in and consent form
// with a CSRF token, inside headers that keep it out of frames and caches.
func TestConsentPage(t *testing.T) {
	e := newEnv(t)
	b := browser()
	authURL := e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback,
		"scope": "conversations.readonly write:conversations", "state": `"><script>alert(1)</script>`})
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{
		`<html lang="en">`,
		`<label for="email">Email</label>`,
		`<input id="email" name="email" type="email" autocomplete="username" required`,
		`<label for="password">Password</label>`,
		`autocomplete="current-password"`,
		`<form method="post" action="/v1/oauth/authorize"`,
		`name="csrf_token"`,
		`value="read:conversations write:conversations"`, // the alias resolved
		"Read conversations and conversation details",
		`name="decision" value="deny" formnovalidate`,
		"Make", "www.make.com",
		`&#34;&gt;&lt;script&gt;`, // the state, escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("page contains an unescaped script")
	}
	h := resp.Header
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
		"Content-Type": "text/html; charset=utf-8",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' https://www.make.com"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if c := resp.Cookies(); len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("cookies = %v, want one HttpOnly SameSite=Strict CSRF cookie", c)
	}
}

// TestConsentPageCSRF: a form post needs the cookie's token, from this
// origin.
func TestConsentPageCSRF(t *testing.T) {
	e := newEnv(t)
	authURL := e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback, "state": "s"})
	cases := []struct {
		name   string
		mutate func(form url.Values, req *http.Request)
		want   int
	}{
		{"valid", func(url.Values, *http.Request) {}, http.StatusFound},
		{"no token", func(f url.Values, _ *http.Request) { f.Del("csrf_token") }, http.StatusForbidden},
		{"wrong token", func(f url.Values, _ *http.Request) { f.Set("csrf_token", strings.Repeat("A", 43)) }, http.StatusForbidden},
		{"cross-site fetch", func(_ url.Values, r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden},
		{"same-site fetch", func(_ url.Values, r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }, http.StatusForbidden},
		{"foreign origin", func(_ url.Values, r *http.Request) { r.Header.Set("Origin", "https://evil-host.com") }, http.StatusForbidden},
		{"own origin", func(_ url.Values, r *http.Request) {
			r.Header.Set("Origin", e.URL)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		}, http.StatusFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := browser()
			_, form := consentForm(t, b, authURL)
			form.Set("email", e.User.Email)
			form.Set("password", userPassword)
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/oauth/authorize", nil)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			tc.mutate(form, req)
			enc := form.Encode()
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(enc)), int64(len(enc))
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.want, page)
			}
			if tc.want == http.StatusForbidden {
				if resp.Header.Get("Location") != "" || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, "csrf_token") {
					t.Errorf("want the form again with an alert and a fresh token, got %s", page)
				}
			}
		})
	}
}

// TestConsentDeny: the user's refusal goes back as access_denied.
func TestConsentDeny(t *testing.T) {
	e := newEnv(t)
	b := browser()
	_, form := consentForm(t, b, e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback, "state": "keep"}))
	form.Set("decision", "deny")
	resp, err := b.PostForm(e.URL+"/v1/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	q := redirectQuery(t, resp)
	if q.Get("error") != "access_denied" || q.Get("state") != "keep" || q.Get("code") != "" || q.Get("iss") != e.URL {
		t.Errorf("redirect query %v, want error=access_denied, state keep, iss, no code", q)
	}
}

// TestAuthorizeErrorPages: problems with the client or redirect URI are
// shown, never redirected; later problems go to the redirect URI.
func TestAuthorizeErrorPages(t *testing.T) {
	e := newEnv(t)
	pages := []struct {
		name   string
		params map[string]string
		accept string
		want   string
	}{
		{"no client_id", map[string]string{"response_type": "code"}, "", "The client_id parameter is required."},
		{"unknown client", map[string]string{"response_type": "code", "client_id": "cli_nobody", "redirect_uri": makeCallback}, "", "Unknown client"},
		{"no redirect_uri with two registered", map[string]string{"response_type": "code", "client_id": e.Make.ID}, "", "redirect_uri parameter is required"},
		{"JSON caller", map[string]string{"response_type": "code", "client_id": "cli_nobody"}, "application/json",
			`{"error":"Unknown client","message":"No application is registered with this client_id."}`},
	}
	for _, tc := range pages {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.authURL(tc.params), nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := browser().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, Location %q, body %s; want 400 containing %q", resp.StatusCode, resp.Header.Get("Location"), body, tc.want)
			}
		})
	}
	// A repeated parameter (RFC 6749 §3.1).
	resp, err := browser().Get(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}) + "&client_id=cli_other")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "more than once") {
		t.Errorf("repeated client_id: status %d, body %s", resp.StatusCode, body)
	}

	redirected := []struct {
		name      string
		params    map[string]string
		wantError string
	}{
		{"no response_type", map[string]string{}, "invalid_request"},
		{"unknown scope", map[string]string{"response_type": "code", "scope": "read:conversations admin"}, "invalid_scope"},
		{"fragment response mode", map[string]string{"response_type": "code", "response_mode": "fragment"}, "invalid_request"},
	}
	for _, tc := range redirected {
		t.Run(tc.name, func(t *testing.T) {
			tc.params["client_id"], tc.params["redirect_uri"], tc.params["state"] = e.Make.ID, makeCallback, "st"
			resp, err := browser().Get(e.authURL(tc.params))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if q := redirectQuery(t, resp); q.Get("error") != tc.wantError || q.Get("state") != "st" {
				t.Errorf("redirect query %v, want error=%s with the state", q, tc.wantError)
			}
		})
	}
}

// TestScopes: defaults when none is asked for, aliases, and clients
// limited to a subset.
func TestScopes(t *testing.T) {
	e := newEnv(t)
	limited, limitedSecret := e.client(assistloop.CreateClientInput{Name: "Reader", RedirectURIs: []string{makeCallback},
		Scopes: []assistloop.Scope{assistloop.ScopeReadConversations, assistloop.ScopeWriteConversations}})
	cases := []struct {
		name      string
		client    *assistloop.OAuthClient
		secret    string
		scope     string
		wantScope string
		wantError string
	}{
		{"defaults", e.Make, e.MakeSecret, "", "read:conversations read:messages manage:webhooks", ""},
		{"every scope", e.Make, e.MakeSecret, strings.Join(everyScope, " "), strings.Join(everyScope, " "), ""},
		{"aliases", e.Make, e.MakeSecret, "conversations.readonly conversations/message.readonly conversations/message.write",
			"read:conversations read:messages write:conversations", ""},
		{"duplicates", e.Make, e.MakeSecret, "read:messages read:messages conversations/message.readonly", "read:messages", ""},
		{"unknown", e.Make, e.MakeSecret, "read:everything", "", "invalid_scope"},
		{"limited client, defaults", limited, limitedSecret, "", "read:conversations", ""},
		{"limited client, allowed", limited, limitedSecret, "conversations.write", "write:conversations", ""},
		{"limited client, beyond its scopes", limited, limitedSecret, "read:conversations manage:webhooks", "", "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			authURL := e.authURL(map[string]string{"response_type": "code", "client_id": tc.client.ID, "redirect_uri": makeCallback, "scope": tc.scope})
			if tc.wantError != "" {
				resp, err := browser().Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if q := redirectQuery(t, resp); q.Get("error") != tc.wantError {
					t.Errorf("redirect query %v, want error=%s", q, tc.wantError)
				}
				return
			}
			code := e.code(authURL)
			status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
				"redirect_uri": makeCallback, "client_id": tc.client.ID, "client_secret": tc.secret}, nil)
			if status != http.StatusOK || body["scope"] != tc.wantScope {
				t.Errorf("status %d, scope %v; want %q", status, body["scope"], tc.wantScope)
			}
		})
	}
}

// TestLoginLimitPerAccount: after ten failures for an account, even the
// right password is refused for a while, on the page and as JSON.
func TestLoginLimitPerAccount(t *testing.T) {
	e := newEnv(t)
	authURL := e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback})
	for i := range oauth.DefaultLoginFailuresPerAccount {
		resp := e.approve(authURL, "wrong password")
		page := readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "The email or password is incorrect.") {
			t.Fatalf("failure %d: status %d, want 401 with the form again", i+1, resp.StatusCode)
		}
	}
	resp := e.approve(authURL, userPassword)
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many failed sign-ins") {
		t.Errorf("right password after the limit: status %d, Retry-After %q; want 429 with the form", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/oauth/authorize", strings.NewReader(`{"response_type":"code","client_id":"`+
		e.Make.ID+`","redirect_uri":"`+makeCallback+`","email":"`+strings.ToUpper(e.User.Email)+`","password":"`+userPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(body, `{"message":"Too Many Attempts.","retry_after":`) {
		t.Errorf("JSON sign-in after the limit: status %d, body %s; want 429 Too Many Attempts", resp.StatusCode, body)
	}
}

// TestLoginLimitPerIP: failures across accounts from one address block
// that address. The server runs with a small limit on a router of its own.
func TestLoginLimitPerIP(t *testing.T) {
	e := newEnv(t)
	r := chi.NewRouter()
	oauth.Mount(r, oauth.Options{Users: e.App.Services.Users, OAuth: e.App.OAuth, Issuer: e.URL,
		LoginLimits: oauth.LoginLimits{PerIP: 3}})
	signIn := func(email, password, remote string) int {
		body := `{"response_type":"code","client_id":"` + e.Make.ID + `","redirect_uri":"` + makeCallback +
			`","email":"` + email + `","password":"` + password + `"}`
		req := httptest.NewRequest(http.MethodPost, "/v1/oauth/authorize", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range 3 {
		if got := signIn("nobody"+string(rune('a'+i))+"@example.com", "guess", "203.0.113.7:4000"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, got)
		}
	}
	if got := signIn(e.User.Email, userPassword, "203.0.113.7:4001"); got != http.StatusTooManyRequests {
		t.Errorf("right credentials from the blocked address: status %d, want 429", got)
	}
	if got := signIn(e.User.Email, userPassword, "198.51.100.1:4000"); got != http.StatusFound {
		t.Errorf("right credentials from another address: status %d, want 302", got)
	}
}

// TestLoginLimitSharedThroughRedis: with REDIS_URL, failed sign-ins on one
// instance count on another.
func TestLoginLimitSharedThroughRedis(t *testing.T) {
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second); err != nil {
		t.Skip("no Redis on 127.0.0.1:6379")
	} else {
		conn.Close()
	}
	prefix := "assistloop-test-" + assistloop.RandomString(8)
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}
	tune := func(a *app.App) { a.RedisPrefix = prefix }
	one := newEnvWith(t, env, tune)
	two := newEnvWith(t, env, tune)
	two.User, two.Make = one.User, one.Make // the same account, through the other instance

	authURL := one.authURL(map[string]string{"response_type": "code", "client_id": one.Make.ID, "redirect_uri": makeCallback})
	for i := range oauth.DefaultLoginFailuresPerAccount {
		resp := one.approve(authURL, "wrong password")
		if readAll(t, resp); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d on instance one: status %d", i+1, resp.StatusCode)
		}
	}
	resp := two.approve(two.authURL(map[string]string{"response_type": "code", "client_id": one.Make.ID, "redirect_uri": makeCallback}), userPassword)
	if readAll(t, resp); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password on instance two after %d failures on one: status %d, want 429",
			oauth.DefaultLoginFailuresPerAccount, resp.StatusCode)
	}
}
