package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"golang.org/x/oauth2"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Make's callbacks, as the demo client registers them.
const (
	makeCallback       = "https://www.make.com/oauth/cb/app"
	integromatCallback = "https://www.integromat.com/oauth/cb/app"
	userPassword       = "correct horse battery staple"
)

// syncBuffer collects the service's log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one running service with a user and registered clients.
type env struct {
	t    testing.TB
	URL  string
	App  *app.App
	DB   *bun.DB
	Logs *syncBuffer

	// HTTP keeps enough idle connections for the concurrency tests.
	HTTP *http.Client

	User *assistloop.User
	// Make is a confidential client registered for Make's callbacks.
	Make       *assistloop.OAuthClient
	MakeSecret string
}

// newEnv starts the real router on an httptest server whose URL is also
// the service's PUBLIC_URL (the OAuth issuer).
func newEnv(t testing.TB) *env { return newEnvWith(t, nil, nil) }

// newEnvWith is newEnv with more configuration (vars) and a chance to
// adjust the app before its router is built (tune).
func newEnvWith(t testing.TB, vars map[string]string, tune func(*app.App)) *env {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg, err := config.Load(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return map[string]string{"PUBLIC_URL": srv.URL, "DATABASE_URL": "postgres://unused/"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	db := pgtest.Open(t)
	a := app.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), db)
	if tune != nil {
		tune(a)
	}
	handler = a.Handler()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{t: t, URL: srv.URL, App: a, DB: db, Logs: logs, HTTP: &http.Client{Transport: tr}}

	ctx := context.Background()
	email := "owner-" + assistloop.RandomString(8) + "@example.com"
	e.User, _, _, err = a.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{
		Email: email, Password: userPassword, Name: "Ada Owner", OrganizationName: "Acme",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Make, e.MakeSecret = e.client(assistloop.CreateClientInput{Name: "Make", RedirectURIs: []string{integromatCallback, makeCallback}})
	return e
}

// client registers a client.
func (e *env) client(in assistloop.CreateClientInput) (*assistloop.OAuthClient, string) {
	e.t.Helper()
	c, secret, err := e.App.Clients.CreateClient(context.Background(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, secret
}

// config is an x/oauth2 client configuration for a registered client.
func (e *env) config(c *assistloop.OAuthClient, secret string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.ID, ClientSecret: secret, RedirectURL: c.RedirectURIs[len(c.RedirectURIs)-1], Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.URL + "/v1/oauth/authorize", TokenURL: e.URL + "/oauth/token"},
	}
}

// browser is a user agent with cookies that does not follow redirects
// (the redirect target is the client's, not ours).
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consentForm loads the consent page for an authorization URL and returns
// the page and its hidden fields.
func consentForm(t testing.TB, b *http.Client, authURL string) (string, url.Values) {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200\n%s", authURL, resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return page, form
}

// approve signs in on the consent page of authURL with the password and
// allows the request; it returns the response (a redirect when all went
// well).
func (e *env) approve(authURL, password string) *http.Response {
	e.t.Helper()
	b := browser()
	_, form := consentForm(e.t, b, authURL)
	form.Set("email", e.User.Email)
	form.Set("password", password)
	form.Set("decision", "allow")
	u, _ := url.Parse(authURL)
	resp, err := b.PostForm(e.URL+u.Path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// code runs the browser part of the flow and returns the authorization
// code from the redirect, checking state and issuer.
func (e *env) code(authURL string) string {
	e.t.Helper()
	resp := e.approve(authURL, userPassword)
	body := readAll(e.t, resp)
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: status %d, want 302\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	q := loc.Query()
	au, _ := url.Parse(authURL)
	if got, want := q.Get("state"), au.Query().Get("state"); got != want {
		e.t.Errorf("redirect state = %q, want %q", got, want)
	}
	if got := q.Get("iss"); got != e.URL {
		e.t.Errorf("redirect iss = %q, want %q", got, e.URL)
	}
	if q.Get("code") == "" {
		e.t.Fatalf("redirect has no code: %s", loc)
	}
	return q.Get("code")
}

// authURL builds an authorization URL by hand, for parameters x/oauth2
// would not send.
func (e *env) authURL(params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	return e.URL + "/v1/oauth/authorize?" + q.Encode()
}

// post sends a body to a path: url.Values are form-encoded, anything else
// is JSON. basic, when not nil, is the client's id and secret.
func (e *env) post(path string, body any, basic []string) (int, http.Header, map[string]any) {
	e.t.Helper()
	var (
		rdr   io.Reader
		ctype string
	)
	if form, ok := body.(url.Values); ok {
		rdr, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	} else {
		b, _ := json.Marshal(body)
		rdr, ctype = bytes.NewReader(b), "application/json"
	}
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, rdr)
	req.Header.Set("Content-Type", ctype)
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	raw := readAll(e.t, resp)
	var out map[string]any
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			e.t.Fatalf("POST %s: body is not JSON: %q", path, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// warm opens n HTTP connections to the server and n database
// connections, so that n requests sent at once reach the storage together
// instead of queueing behind handshakes.
func (e *env) warm(n int) {
	e.t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if resp, err := e.HTTP.Get(e.URL + "/healthz"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		wg.Go(func() { _, _ = e.DB.ExecContext(context.Background(), "SELECT pg_sleep(0.05)") })
	}
	wg.Wait()
}

// viewer runs the query /oauth/me is built on and returns the HTTP status
// and the viewer.
func (e *env) viewer(token string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql",
		strings.NewReader(`{"query":"{ viewer { user { uuid name email } scopes } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var out struct {
		Data struct {
			Viewer map[string]any `json:"viewer"`
		} `json:"data"`
	}
	raw := readAll(e.t, resp)
	_ = json.Unmarshal([]byte(raw), &out)
	return resp.StatusCode, out.Data.Viewer
}

// me calls Make's connection test, GET /api/v1/oauth/me, with the token
// and returns the status and the decoded body.
func (e *env) me(token string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/oauth/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var out map[string]any
	raw := readAll(e.t, resp)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		e.t.Fatalf("/api/v1/oauth/me answered %d %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// wantMe checks that /api/v1/oauth/me answers exactly the token's user.
func (e *env) wantMe(token string) {
	e.t.Helper()
	status, me := e.me(token)
	want := map[string]any{"uuid": e.User.ID, "name": e.User.Name, "email": e.User.Email}
	if status != http.StatusOK || len(me) != 3 || me["uuid"] != want["uuid"] || me["name"] != want["name"] || me["email"] != want["email"] {
		e.t.Errorf("/api/v1/oauth/me = %d %v, want 200 %v", status, me, want)
	}
}

// exec runs SQL against the test database.
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), query, args...); err != nil {
		e.t.Fatal(err)
	}
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// redirectQuery returns the query of a redirect response's Location.
func redirectQuery(t testing.TB, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}
