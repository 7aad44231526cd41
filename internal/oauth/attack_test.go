package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// TestRedirectURINearMisses: the library's default accepts any redirect
// URI whose host ends with the registered host; here only an exact match
// of a registered URI passes, and a mismatch is never redirected to.
func TestRedirectURINearMisses(t *testing.T) {
	e := newEnv(t)
	nearMisses := []string{
		"https://www.make.com/oauth/cb/app/",                           // trailing slash
		"https://evil-hostwww.make.com/oauth/cb/app",                   // host suffix: the library's default accepts it
		"https://evil-host.www.make.com/oauth/cb/app",                  // subdomain
		"https://www.make.com.evil-host.com/oauth/cb/app",              // registered host as a prefix
		"https://www.make.com@evil-host.com/oauth/cb/app",              // userinfo, evil host
		"https://evil-host.com@www.make.com/oauth/cb/app",              // userinfo, right host
		"http://www.make.com/oauth/cb/app",                             // other scheme
		"ftp://www.make.com/oauth/cb/app",                              // other scheme
		"https://www.make.com:443/oauth/cb/app",                        // explicit port
		"https://WWW.MAKE.COM/oauth/cb/app",                            // case
		"https://www.make.com/oauth/cb/App",                            // path case
		"https://www.make.com/oauth/cb/app?next=https://evil-host.com", // extra query
		"https://www.make.com/oauth/cb/app#fragment",                   // fragment
		"https://www.make.com/oauth/cb/app/../app",                     // dot segments
		"https://www.make.com/oauth/cb/app%2F",                         // encoded slash
		"https://www.make.com/oauth/cb/app ",                           // trailing space
		"//www.make.com/oauth/cb/app",                                  // scheme-relative
	}
	for _, uri := range nearMisses {
		t.Run(uri, func(t *testing.T) {
			authURL := e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": uri, "state": "s"})
			resp, err := browser().Get(authURL)
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("GET: status %d, Location %q; want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(page, "Invalid redirect URI") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("GET: want the HTML error page, got %s", page)
			}

			// The same with valid credentials, as JSON: still no code.
			body := `{"response_type":"code","client_id":"` + e.Make.ID + `","redirect_uri":` + jsonString(uri) +
				`,"email":"` + e.User.Email + `","password":"` + userPassword + `"}`
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/oauth/authorize", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err = browser().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw := readAll(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
				raw != `{"error":"Invalid redirect URI","message":"The redirect_uri does not exactly match a redirect URI registered for this application."}`+"\n" {
				t.Errorf("POST JSON: status %d, Location %q, body %s; want the 400 JSON error", resp.StatusCode, resp.Header.Get("Location"), raw)
			}
		})
	}

	// A code issued for one registered URI cannot be redeemed with another,
	// nor with a near miss (RFC 6749 §4.1.3).
	code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
	for _, uri := range []string{integromatCallback, makeCallback + "/"} {
		status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
			"redirect_uri": uri, "client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("redeem with redirect_uri %s: status %d, body %v; want invalid_grant", uri, status, body)
		}
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// TestPKCE: S256 only, required for public clients, enforced whenever a
// challenge was sent, and never accepted without one.
func TestPKCE(t *testing.T) {
	e := newEnv(t)
	public, _ := e.client(assistloop.CreateClientInput{Name: "CLI tool", RedirectURIs: []string{"http://127.0.0.1:9999/callback"}, Public: true})
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)

	refused := []struct {
		name   string
		params map[string]string
	}{
		{"public client without PKCE", map[string]string{"client_id": public.ID}},
		{"plain method", map[string]string{"client_id": e.Make.ID, "code_challenge": verifier, "code_challenge_method": "plain"}},
		{"challenge without method (plain by default)", map[string]string{"client_id": e.Make.ID, "code_challenge": challenge}},
		{"method without challenge", map[string]string{"client_id": e.Make.ID, "code_challenge_method": "S256"}},
		{"malformed challenge", map[string]string{"client_id": e.Make.ID, "code_challenge": "too-short", "code_challenge_method": "S256"}},
		{"unknown method", map[string]string{"client_id": e.Make.ID, "code_challenge": challenge, "code_challenge_method": "S512"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tc.params["response_type"], tc.params["state"], tc.params["redirect_uri"] = "code", "st", makeCallback
			if tc.params["client_id"] == public.ID {
				tc.params["redirect_uri"] = public.RedirectURIs[0]
			}
			resp, err := browser().Get(e.authURL(tc.params))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			q := redirectQuery(t, resp)
			if q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("redirect query = %v, want error=invalid_request with state and no code", q)
			}
		})
	}

	redeem := func(clientID, secret, code, redirectURI, verifier string) (int, map[string]any) {
		params := map[string]string{"grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI, "client_id": clientID}
		if secret != "" {
			params["client_secret"] = secret
		}
		if verifier != "" {
			params["code_verifier"] = verifier
		}
		status, _, body := e.post("/oauth/token", params, nil)
		return status, body
	}
	withChallenge := func() string {
		return e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback,
			"code_challenge": challenge, "code_challenge_method": "S256"}))
	}
	tokenCases := []struct {
		name     string
		code     func() string
		verifier string
	}{
		{"missing verifier", withChallenge, ""},
		{"wrong verifier", withChallenge, oauth2.GenerateVerifier()},
		{"challenge sent as verifier", withChallenge, challenge},
		{"verifier for a code issued without a challenge", func() string {
			return e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
		}, verifier},
	}
	for _, tc := range tokenCases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := redeem(e.Make.ID, e.MakeSecret, tc.code(), makeCallback, tc.verifier)
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("status %d, body %v; want 400 invalid_grant", status, body)
			}
		})
	}

	t.Run("public client with S256", func(t *testing.T) {
		code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": public.ID,
			"redirect_uri": public.RedirectURIs[0], "code_challenge": challenge, "code_challenge_method": "S256"}))
		if status, body := redeem(public.ID, "", code, public.RedirectURIs[0], verifier); status != http.StatusOK {
			t.Fatalf("status %d, body %v; want 200", status, body)
		}
	})
	t.Run("public client presenting a secret", func(t *testing.T) {
		code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": public.ID,
			"redirect_uri": public.RedirectURIs[0], "code_challenge": challenge, "code_challenge_method": "S256"}))
		if status, body := redeem(public.ID, "alcs_guess", code, public.RedirectURIs[0], verifier); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("status %d, body %v; want 401 invalid_client", status, body)
		}
	})
}

// TestCodeRedeemedConcurrently: of 20 parallel redemptions of one code
// exactly one succeeds, and the replays revoke what it was issued.
func TestCodeRedeemedConcurrently(t *testing.T) {
	e := newEnv(t)
	code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		errs     = map[string]int{}
		access   string
		refresh  string
	)
	e.warm(n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
				"redirect_uri": makeCallback, "client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
			mu.Lock()
			defer mu.Unlock()
			statuses[status]++
			if status == http.StatusOK {
				access, refresh = body["access_token"].(string), body["refresh_token"].(string)
			} else {
				errs[body["error"].(string)]++
			}
		})
	}
	close(start)
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusBadRequest] != n-1 || errs["invalid_grant"] != n-1 {
		t.Fatalf("statuses %v, errors %v; want exactly one 200 and %d invalid_grant", statuses, errs, n-1)
	}
	if status, _ := e.viewer(access); status != http.StatusUnauthorized {
		t.Errorf("access token issued from a replayed code: status %d, want 401", status)
	}
	status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": refresh,
		"client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh token issued from a replayed code: status %d, body %v; want invalid_grant", status, body)
	}
}

// TestCodeReplayRevokesTokens: a second, sequential redemption fails and
// revokes the tokens of the first.
func TestCodeReplayRevokesTokens(t *testing.T) {
	e := newEnv(t)
	code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
	redeem := func() (int, map[string]any) {
		status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
			"redirect_uri": makeCallback, "client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
		return status, body
	}
	status, first := redeem()
	if status != http.StatusOK {
		t.Fatalf("first redemption: status %d, %v", status, first)
	}
	if status, _ := e.viewer(first["access_token"].(string)); status != http.StatusOK {
		t.Fatalf("viewer before the replay: status %d, want 200", status)
	}
	if status, body := redeem(); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("second redemption: status %d, %v; want invalid_grant", status, body)
	}
	if status, _ := e.viewer(first["access_token"].(string)); status != http.StatusUnauthorized {
		t.Errorf("viewer after the replay: status %d, want 401", status)
	}
}

// TestCodeBindings: a code expires, and belongs to one client.
func TestCodeBindings(t *testing.T) {
	e := newEnv(t)
	other, otherSecret := e.client(assistloop.CreateClientInput{Name: "Other", RedirectURIs: []string{makeCallback}})
	newCode := func() string {
		return e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
	}
	redeem := func(clientID, secret, code string) (int, map[string]any) {
		status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
			"redirect_uri": makeCallback, "client_id": clientID, "client_secret": secret}, nil)
		return status, body
	}

	t.Run("expired", func(t *testing.T) {
		code := newCode()
		// Age the code past its ten minutes.
		e.exec(`UPDATE oauth_authorization_codes SET created_at = created_at - interval '11 minutes',
			expires_at = expires_at - interval '11 minutes' WHERE consumed_at IS NULL`)
		if status, body := redeem(e.Make.ID, e.MakeSecret, code); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("status %d, body %v; want invalid_grant", status, body)
		}
	})
	t.Run("another client", func(t *testing.T) {
		code := newCode()
		if status, body := redeem(other.ID, otherSecret, code); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("other client: status %d, body %v; want invalid_grant", status, body)
		}
		// The code's own client can still redeem it.
		if status, body := redeem(e.Make.ID, e.MakeSecret, code); status != http.StatusOK {
			t.Errorf("own client after the attempt: status %d, body %v; want 200", status, body)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		status, header, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": newCode(),
			"redirect_uri": makeCallback, "client_id": e.Make.ID, "client_secret": "alcs_wrong"}, nil)
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" || header.Get("WWW-Authenticate") == "" {
			t.Errorf("status %d, body %v, WWW-Authenticate %q; want 401 invalid_client with a challenge", status, body, header.Get("WWW-Authenticate"))
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		if status, body := redeem(e.Make.ID, e.MakeSecret, "alac_"+strings.Repeat("x", 43)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("status %d, body %v; want invalid_grant", status, body)
		}
	})
}

// TestRefreshTokenAttacks: refresh tokens are bound to their client and
// can never widen scope.
func TestRefreshTokenAttacks(t *testing.T) {
	e := newEnv(t)
	other, otherSecret := e.client(assistloop.CreateClientInput{Name: "Other", RedirectURIs: []string{makeCallback}})
	tokens := func(scope string) map[string]any {
		code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback, "scope": scope}))
		status, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
			"redirect_uri": makeCallback, "client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
		if status != http.StatusOK {
			t.Fatalf("token: status %d, %v", status, body)
		}
		return body
	}
	refresh := func(clientID, secret, token, scope string) (int, map[string]any) {
		params := map[string]string{"grant_type": "refresh_token", "refresh_token": token, "client_id": clientID, "client_secret": secret}
		if scope != "" {
			params["scope"] = scope
		}
		status, _, body := e.post("/oauth/token", params, nil)
		return status, body
	}

	t.Run("another client's refresh token", func(t *testing.T) {
		tok := tokens("")
		if status, body := refresh(other.ID, otherSecret, tok["refresh_token"].(string), ""); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("status %d, body %v; want invalid_grant", status, body)
		}
		if status, body := refresh(e.Make.ID, e.MakeSecret, tok["refresh_token"].(string), ""); status != http.StatusOK {
			t.Errorf("own client afterwards: status %d, body %v; want 200", status, body)
		}
	})
	t.Run("widened scope", func(t *testing.T) {
		tok := tokens("read:conversations")
		for _, scope := range []string{"read:conversations write:conversations", "write:conversations", "conversations.write", "admin"} {
			if status, body := refresh(e.Make.ID, e.MakeSecret, tok["refresh_token"].(string), scope); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
				t.Errorf("scope %q: status %d, body %v; want invalid_scope", scope, status, body)
			}
		}
		// The same scope by its alias is no widening, and the refused
		// attempts did not spend the token.
		status, body := refresh(e.Make.ID, e.MakeSecret, tok["refresh_token"].(string), "conversations.readonly")
		if status != http.StatusOK || body["scope"] != "read:conversations" {
			t.Errorf("same scope by alias: status %d, body %v; want 200 read:conversations", status, body)
		}
	})
	t.Run("narrowed scope stays narrow", func(t *testing.T) {
		tok := tokens("read:conversations read:messages")
		status, body := refresh(e.Make.ID, e.MakeSecret, tok["refresh_token"].(string), "read:messages")
		if status != http.StatusOK || body["scope"] != "read:messages" {
			t.Fatalf("narrowing: status %d, body %v", status, body)
		}
		status, body = refresh(e.Make.ID, e.MakeSecret, body["refresh_token"].(string), "read:conversations read:messages")
		if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Errorf("widening back: status %d, body %v; want invalid_scope", status, body)
		}
	})
	t.Run("expired refresh token", func(t *testing.T) {
		tok := tokens("")
		e.exec(`UPDATE oauth_refresh_tokens SET expires_at = now() - interval '1 second' WHERE rotated_at IS NULL AND revoked_at IS NULL`)
		if status, body := refresh(e.Make.ID, e.MakeSecret, tok["refresh_token"].(string), ""); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("status %d, body %v; want invalid_grant", status, body)
		}
	})
	t.Run("parallel reuse", func(t *testing.T) {
		tok := tokens("")
		var wg sync.WaitGroup
		results := make([]int, 10)
		for i := range results {
			wg.Go(func() { results[i], _ = refresh(e.Make.ID, e.MakeSecret, tok["refresh_token"].(string), "") })
		}
		wg.Wait()
		ok := 0
		for _, s := range results {
			if s == http.StatusOK {
				ok++
			}
		}
		if ok > 1 {
			t.Errorf("%d parallel refreshes with one token succeeded, want at most one", ok)
		}
		var active int
		if err := e.DB.NewRaw(`SELECT count(*) FROM access_tokens WHERE grant_id = (SELECT grant_id FROM oauth_refresh_tokens
			WHERE token_hash = sha256(convert_to(?, 'UTF8'))) AND revoked_at IS NULL`, tok["refresh_token"]).Scan(context.Background(), &active); err != nil {
			t.Fatal(err)
		}
		if active != 0 {
			t.Errorf("%d access tokens of the grant still live after refresh-token reuse, want 0", active)
		}
	})
}

// TestRevokedAndExpiredAccessTokens: revoked and expired access tokens get
// 401 on GraphQL and on a REST route.
func TestRevokedAndExpiredAccessTokens(t *testing.T) {
	e := newEnv(t)
	tokens := func() map[string]any {
		code := e.code(e.authURL(map[string]string{"response_type": "code", "client_id": e.Make.ID, "redirect_uri": makeCallback}))
		_, _, body := e.post("/oauth/token", map[string]string{"grant_type": "authorization_code", "code": code,
			"redirect_uri": makeCallback, "client_id": e.Make.ID, "client_secret": e.MakeSecret}, nil)
		return body
	}

	revoked := tokens()["access_token"].(string)
	if status, _ := e.viewer(revoked); status != http.StatusOK {
		t.Fatalf("before revocation: status %d", status)
	}
	if status, _, _ := e.post("/oauth/revoke", url.Values{"token": {revoked}}, []string{e.Make.ID, e.MakeSecret}); status != http.StatusOK {
		t.Fatalf("revoke: status %d", status)
	}
	expired := tokens()["access_token"].(string)
	e.exec(`UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to(?, 'UTF8'))`, expired)

	for name, token := range map[string]string{"revoked": revoked, "expired": expired} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { user { uuid } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "UNAUTHENTICATED") ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s token on /graphql: status %d, WWW-Authenticate %q, body %s; want 401 UNAUTHENTICATED",
				name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		for _, path := range []string{"/v1/my/organizations", "/api/v1/oauth/me"} {
			req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := e.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusUnauthorized || body != `{"error":"Unauthenticated","message":"No valid access token was provided."}`+"\n" ||
				!strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s token on %s: status %d, WWW-Authenticate %q, body %q; want 401", name, path,
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
	}
}

// TestDisabledGrants: the implicit, password and client-credentials grants
// do not exist.
func TestDisabledGrants(t *testing.T) {
	e := newEnv(t)
	for _, gt := range []string{"password", "client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:device_code",
		"urn:ietf:params:oauth:grant-type:jwt-bearer", "__implicit"} {
		for _, enc := range []string{"form", "json"} {
			params := map[string]string{"grant_type": gt, "username": e.User.Email, "password": userPassword,
				"client_id": e.Make.ID, "client_secret": e.MakeSecret, "scope": "read:conversations"}
			var body any = params
			if enc == "form" {
				form := url.Values{}
				for k, v := range params {
					form.Set(k, v)
				}
				body = form
			}
			status, header, resp := e.post("/oauth/token", body, nil)
			if status != http.StatusBadRequest || resp["error"] != "unsupported_grant_type" || resp["access_token"] != nil ||
				header.Get("Cache-Control") != "no-store" {
				t.Errorf("grant_type %s (%s): status %d, body %v; want 400 unsupported_grant_type", gt, enc, status, resp)
			}
		}
	}
	// The implicit grant's response type is refused at the authorization
	// endpoint, before any sign-in, and no token appears in the redirect.
	for _, rt := range []string{"token", "code token", "id_token"} {
		resp, err := browser().Get(e.authURL(map[string]string{"response_type": rt, "client_id": e.Make.ID, "redirect_uri": makeCallback, "state": "s"}))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		q := redirectQuery(t, resp)
		if q.Get("error") != "unsupported_response_type" || strings.Contains(resp.Header.Get("Location"), "#") {
			t.Errorf("response_type %q: redirect %q; want error=unsupported_response_type", rt, resp.Header.Get("Location"))
		}
	}
}
