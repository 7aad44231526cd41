package oauth_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// tokensFor runs the flow for the Make client and returns the token
// response.
func (e *env) tokensFor(scope string) map[string]any {
	e.t.Helper()
	code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback, "scope": scope}))
	status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
		"redirect_uri": makeCallback, "client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
	if status != http.StatusOK {
		e.t.Fatalf("token: status %d, %v", status, body)
	}
	return body
}

// TestRevocation (RFC 7009): an access token alone, a refresh token with
// its whole grant; unknown tokens and other clients' tokens answer 200 and
// change nothing.
func TestRevocation(t *testing.T) {
	e := newEnv(t)
	other, otherSecret := e.client(assistloop.CreateClientInput{Name: "Other", RedirectURIs: []string{makeCallback}})
	creds := []string{e.Make.ID, e.MakeSecret}
	revoke := func(basic []string, params url.Values) int {
		status, h, _ := e.post("/oauth/revoke", params, basic)
		if status == http.StatusOK && h.Get("Cache-Control") != "no-store" {
			t.Errorf("revocation response Cache-Control = %q", h.Get("Cache-Control"))
		}
		return status
	}
	refresh := func(token string) int {
		status, _, _ := e.post("/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": token,
			"client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
		return status
	}

	t.Run("access token", func(t *testing.T) {
		tok := e.tokensFor("")
		if got := revoke(creds, url.Values{"token": {tok["access_token"].(string)}, "token_type_hint": {"access_token"}}); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
		if status, _ := e.viewer(tok["access_token"].(string)); status != http.StatusUnauthorized {
			t.Errorf("revoked access token: status %d, want 401", status)
		}
		if got := refresh(tok["refresh_token"].(string)); got != http.StatusOK {
			t.Errorf("the refresh token after revoking the access token: status %d, want 200", got)
		}
	})
	t.Run("refresh token revokes the grant", func(t *testing.T) {
		tok := e.tokensFor("")
		// A wrong hint is only a hint.
		if got := revoke(creds, url.Values{"token": {tok["refresh_token"].(string)}, "token_type_hint": {"access_token"}}); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
		if status, _ := e.viewer(tok["access_token"].(string)); status != http.StatusUnauthorized {
			t.Errorf("access token of the revoked grant: status %d, want 401", status)
		}
		if got := refresh(tok["refresh_token"].(string)); got != http.StatusBadRequest {
			t.Errorf("revoked refresh token: status %d, want 400", got)
		}
	})
	t.Run("another client's token", func(t *testing.T) {
		tok := e.tokensFor("")
		if got := revoke([]string{other.ID, otherSecret}, url.Values{"token": {tok["access_token"].(string)}}); got != http.StatusOK {
			t.Fatalf("status %d, want 200", got)
		}
		if status, _ := e.viewer(tok["access_token"].(string)); status != http.StatusOK {
			t.Errorf("token revoked by another client: status %d, want it still valid", status)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		if got := revoke(creds, url.Values{"token": {"alat_unknown"}}); got != http.StatusOK {
			t.Errorf("status %d, want 200", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		if got := revoke(nil, url.Values{"token": {"x"}}); got != http.StatusUnauthorized {
			t.Errorf("no client authentication: status %d, want 401", got)
		}
		if got := revoke([]string{e.Make.ID, "alcs_wrong"}, url.Values{"token": {"x"}}); got != http.StatusUnauthorized {
			t.Errorf("wrong secret: status %d, want 401", got)
		}
		if got := revoke(creds, url.Values{}); got != http.StatusBadRequest {
			t.Errorf("no token: status %d, want 400", got)
		}
	})
}

// TestIntrospection (RFC 7662): client-authenticated; a client sees its
// own live tokens; everything else is exactly {"active": false}.
func TestIntrospection(t *testing.T) {
	e := newEnv(t)
	other, otherSecret := e.client(assistloop.CreateClientInput{Name: "Other", RedirectURIs: []string{makeCallback}})
	public, _ := e.client(assistloop.CreateClientInput{Name: "Public", RedirectURIs: []string{makeCallback}, Public: true})
	tok := e.tokensFor("read:conversations")
	creds := []string{e.Make.ID, e.MakeSecret}

	raw := func(basic []string, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != nil {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := e.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}

	status, body := raw(creds, tok["access_token"].(string))
	var got map[string]any
	_ = json.Unmarshal([]byte(body), &got)
	if status != http.StatusOK || got["active"] != true || got["scope"] != "read:conversations" || got["client_id"] != e.Make.ID ||
		got["sub"] != e.User.ID || got["username"] != e.User.Email || got["token_type"] != "Bearer" || got["iss"] != e.URL {
		t.Errorf("active access token: status %d, body %s", status, body)
	}
	if exp, iat := got["exp"].(float64), got["iat"].(float64); exp-iat != 3600 {
		t.Errorf("exp - iat = %v, want 3600", exp-iat)
	}
	status, body = raw(creds, tok["refresh_token"].(string))
	if status != http.StatusOK || !strings.Contains(body, `"active":true`) || !strings.Contains(body, `"token_type":"refresh_token"`) {
		t.Errorf("active refresh token: status %d, body %s", status, body)
	}

	const inactive = `{"active":false}` + "\n"
	if status, body := raw([]string{other.ID, otherSecret}, tok["access_token"].(string)); status != http.StatusOK || body != inactive {
		t.Errorf("another client's token: status %d, body %q; want %q", status, body, inactive)
	}
	if status, body := raw(creds, "alat_not-a-token"); status != http.StatusOK || body != inactive {
		t.Errorf("unknown token: status %d, body %q", status, body)
	}
	e.post("/oauth/revoke", url.Values{"token": {tok["refresh_token"].(string)}}, creds)
	for _, k := range []string{"access_token", "refresh_token"} {
		if status, body := raw(creds, tok[k].(string)); status != http.StatusOK || body != inactive {
			t.Errorf("revoked %s: status %d, body %q", k, status, body)
		}
	}
	expired := e.tokensFor("")["access_token"].(string)
	e.exec(`UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to(?, 'UTF8'))`, expired)
	if status, body := raw(creds, expired); status != http.StatusOK || body != inactive {
		t.Errorf("expired token: status %d, body %q", status, body)
	}

	if status, body := raw(nil, expired); status != http.StatusUnauthorized || !strings.Contains(body, `"error":"invalid_client"`) {
		t.Errorf("unauthenticated: status %d, body %s; want 401 invalid_client", status, body)
	}
	status, _, resp := e.post("/oauth/introspect", url.Values{"token": {expired}, "client_id": {public.ID}}, nil)
	if status != http.StatusUnauthorized || resp["error"] != "invalid_client" {
		t.Errorf("public client: status %d, body %v; want 401 invalid_client", status, resp)
	}
}

// TestMetadata (RFC 8414) against its golden file; the issuer is the
// server's URL, written {{issuer}} in the file.
func TestMetadata(t *testing.T) {
	e := newEnv(t)
	resp, err := e.HTTP.Get(e.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(body, e.URL, "{{issuer}}")), &v); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(v, "", "  ")
	got = append(got, '\n')
	golden := filepath.Join("testdata", "metadata.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("metadata differs from %s:\n got %s\nwant %s", golden, got, want)
	}
}

// TestTokenEndpointRequests: malformed requests are RFC 6749 errors.
func TestTokenEndpointRequests(t *testing.T) {
	e := newEnv(t)
	send := func(ctype, body string, basic []string) (int, http.Header, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/oauth/token", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if basic != nil {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := e.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.Unmarshal([]byte(readAll(t, resp)), &out)
		return resp.StatusCode, resp.Header, out
	}
	creds := "&client_id=" + e.Make.ID + "&client_secret=" + e.MakeSecret
	cases := []struct {
		name       string
		ctype      string
		body       string
		basic      []string
		wantStatus int
		wantError  string
	}{
		{"no content type", "", "grant_type=authorization_code", nil, 400, "invalid_request"},
		{"text/plain", "text/plain", `{"grant_type":"authorization_code"}`, nil, 400, "invalid_request"},
		{"malformed JSON", "application/json", `{"grant_type":`, nil, 400, "invalid_request"},
		{"JSON array", "application/json", `["grant_type"]`, nil, 400, "invalid_request"},
		{"JSON number value", "application/json", `{"grant_type":"authorization_code","code":12}`, nil, 400, "invalid_request"},
		{"no grant type", "application/x-www-form-urlencoded", "code=x" + creds, nil, 400, "invalid_request"},
		{"repeated parameter", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=a&code=b" + creds, nil, 400, "invalid_request"},
		{"no code", "application/x-www-form-urlencoded", "grant_type=authorization_code" + creds, nil, 400, "invalid_request"},
		{"no client", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=x&redirect_uri=" + url.QueryEscape(makeCallback), nil, 401, "invalid_client"},
		{"unknown client", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x&client_id=cli_nobody&client_secret=y", nil, 401, "invalid_client"},
		{"Basic and body secret", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x&client_secret=" + e.MakeSecret,
			[]string{e.Make.ID, e.MakeSecret}, 400, "invalid_request"},
		{"Basic with a wrong secret", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x",
			[]string{e.Make.ID, "alcs_wrong"}, 401, "invalid_client"},
		{"unknown refresh token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=alrt_unknown" + creds, nil, 400, "invalid_grant"},
		{"redirect_uri missing for a client with two", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=alac_x" + creds, nil, 400, "invalid_request"},
		{"oversized body", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + strings.Repeat("x", 70<<10) + creds, nil, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := send(tc.ctype, tc.body, tc.basic)
			if status != tc.wantStatus || body["error"] != tc.wantError || body["error_description"] == "" {
				t.Errorf("status %d, body %v; want %d %s with a description", status, body, tc.wantStatus, tc.wantError)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", h.Get("Cache-Control"))
			}
		})
	}
	if resp, err := e.HTTP.Get(e.URL + "/oauth/token"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth/token: %v %v, want 405", resp.StatusCode, err)
	}
}

// TestSecretsNeverStoredOrLogged: after a full flow, no code, token,
// client secret or password appears in the log or in any OAuth table.
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	e := newEnv(t)
	code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
	status, _, tok := e.post("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {makeCallback}, "client_id": {e.Make.ID}, "client_secret": {e.MakeSecret}}, nil)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	_, _, refreshed := e.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}},
		[]string{e.Make.ID, e.MakeSecret})
	// A failed reuse and a failed sign-in are logged too.
	e.post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}},
		[]string{e.Make.ID, e.MakeSecret})
	e.approve(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}), "a wrong password").Body.Close()

	secrets := map[string]string{
		"code": code, "access token": tok["access_token"].(string), "refresh token": tok["refresh_token"].(string),
		"refreshed access token": refreshed["access_token"].(string), "refreshed refresh token": refreshed["refresh_token"].(string),
		"client secret": e.MakeSecret, "password": userPassword, "wrong password": "a wrong password",
	}
	var dump []string
	for _, table := range []string{"oauth_clients", "oauth_grants", "oauth_authorization_codes", "oauth_refresh_tokens", "access_tokens", "users"} {
		var rows []string
		if err := e.DB.NewRaw("SELECT row_to_json(t)::text FROM "+table+" AS t").Scan(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Fatalf("table %s is empty: the test would prove nothing", table)
		}
		dump = append(dump, rows...)
	}
	stored := strings.Join(dump, "\n")
	logs := e.Logs.String()
	if !strings.Contains(logs, "/oauth/token") {
		t.Fatal("the access log is empty: the test would prove nothing")
	}
	for name, s := range secrets {
		if strings.Contains(stored, s) {
			t.Errorf("the %s is stored in the database", name)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the %s appears in the log", name)
		}
	}
	// Hashes are what is stored: the access token is found by its SHA-256.
	var n int
	if err := e.DB.NewRaw("SELECT count(*) FROM access_tokens WHERE token_hash = sha256(convert_to(?, 'UTF8'))",
		tok["access_token"]).Scan(context.Background(), &n); err != nil || n != 1 {
		t.Errorf("access token rows by hash = %d (%v), want 1", n, err)
	}
}
