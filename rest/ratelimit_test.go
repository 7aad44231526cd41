package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/rest"
)

// limitedServer starts a server over the shared database with its own rate
// limiters and the given window.
func limitedServer(t *testing.T, w *world, window string) *httptest.Server {
	t.Helper()
	a := newApp(t, w.db, map[string]string{"RATE_LIMIT_WINDOW": window})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// newClient registers an OAuth client, so tests can make distinct
// connected accounts of one user.
func newClient(t *testing.T, w *world) *string {
	t.Helper()
	c, _, err := w.app.Clients.CreateClient(context.Background(), assistloop.CreateClientInput{
		Name: "Make", RedirectURIs: []string{"https://www.integromat.com/oauth/cb/app"}})
	if err != nil {
		t.Fatal(err)
	}
	return &c.ID
}

func header(t *testing.T, r *response, name string) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get(name))
	if err != nil {
		t.Fatalf("%s: %q: %v", name, r.Header.Get(name), err)
	}
	return n
}

func checkTooMany(t *testing.T, r *response, limit, retryAfter int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	want := fmt.Sprintf(`{"message":"Too Many Attempts.","retry_after":%d}`, retryAfter)
	if got := compact(t, r.Body); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if got := header(t, r, "Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %d, want %d", got, retryAfter)
	}
	if got := header(t, r, "X-RateLimit-Limit"); got != limit {
		t.Errorf("X-RateLimit-Limit %d, want %d", got, limit)
	}
	if got := header(t, r, "X-RateLimit-Remaining"); got != 0 {
		t.Errorf("X-RateLimit-Remaining %d, want 0", got)
	}
}

// TestRateLimitAccount: 60 requests per window and connected account over
// every route and both prefixes; the 61st gets the reference's 429. The
// window is an hour so the test never crosses into a fresh one.
func TestRateLimitAccount(t *testing.T) {
	w := shared(t)
	srv := limitedServer(t, w, "1h")
	client := newClient(t, w)
	token := w.token(t, w.B.UserID, client, assistloop.AllScopes...)
	paths := []string{"/v1/oauth/me", "/api/v1/my/organizations", "/v1/automation/agents/" + w.B.AgentIDs[0] + "/conversations/list",
		"/api/v1/automation/agents/" + w.B.AgentIDs[0] + "/conversations/list?per_page=5"} // the last is a 422: it counts too
	for i := range rest.AccountLimit {
		r := do(t, srv.URL, request{Path: paths[i%len(paths)], Token: token})
		if r.Status == http.StatusTooManyRequests {
			t.Fatalf("request %d refused: %s", i+1, r.Body)
		}
		if got := header(t, r, "X-RateLimit-Limit"); got != rest.AccountLimit {
			t.Fatalf("request %d: X-RateLimit-Limit %d", i+1, got)
		}
		if got, want := header(t, r, "X-RateLimit-Remaining"), rest.AccountLimit-i-1; got != want {
			t.Fatalf("request %d: X-RateLimit-Remaining %d, want %d", i+1, got, want)
		}
	}
	checkTooMany(t, do(t, srv.URL, request{Path: "/v1/oauth/me", Token: token}), rest.AccountLimit, 3600)
	checkTooMany(t, do(t, srv.URL, request{Method: "POST", Path: "/api/v1/automation/conversations/" + newConversation(t, w) + "/close",
		Token: token, Body: `{"platform":"make"}`}), rest.AccountLimit, 3600)

	// Another token of the same account shares the budget.
	checkTooMany(t, do(t, srv.URL, request{Path: "/v1/oauth/me", Token: w.token(t, w.B.UserID, client, assistloop.AllScopes...)}),
		rest.AccountLimit, 3600)
	// The same user through another client is another connected account.
	other := w.token(t, w.B.UserID, newClient(t, w), assistloop.AllScopes...)
	if r := do(t, srv.URL, request{Path: "/v1/oauth/me", Token: other}); r.Status != http.StatusOK || header(t, r, "X-RateLimit-Remaining") != rest.AccountLimit-1 {
		t.Errorf("another account: %d, remaining %s", r.Status, r.Header.Get("X-RateLimit-Remaining"))
	}
	// Unauthenticated requests are refused before they can spend anyone's budget.
	if r := do(t, srv.URL, request{Path: "/v1/oauth/me"}); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.Status)
	}
}

func newConversation(t *testing.T, w *world) string {
	t.Helper()
	c, _, err := w.app.Services.Conversations.StartConversation(w.B.as(), assistloop.StartConversationInput{
		AgentID: w.B.AgentIDs[0], Content: "rate limit target"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID.String()
}

// TestRateLimitClose: closing has its own 10 per window on top of the 60;
// a refused close spends neither budget.
func TestRateLimitClose(t *testing.T) {
	w := shared(t)
	srv := limitedServer(t, w, "1h")
	token := w.token(t, w.B.UserID, newClient(t, w), assistloop.AllScopes...)
	conv := newConversation(t, w)
	for i := range rest.CloseLimit {
		r := do(t, srv.URL, request{Method: "POST", Path: "/v1/automation/conversations/" + conv + "/close", Token: token, Body: `{"platform":"make"}`})
		if r.Status != http.StatusOK {
			t.Fatalf("close %d: status %d: %s", i+1, r.Status, r.Body)
		}
		// The close budget is the one closest to running out.
		if got := header(t, r, "X-RateLimit-Limit"); got != rest.CloseLimit {
			t.Errorf("close %d: X-RateLimit-Limit %d, want %d", i+1, got, rest.CloseLimit)
		}
		if got, want := header(t, r, "X-RateLimit-Remaining"), rest.CloseLimit-i-1; got != want {
			t.Errorf("close %d: X-RateLimit-Remaining %d, want %d", i+1, got, want)
		}
	}
	checkTooMany(t, do(t, srv.URL, request{Method: "POST", Path: "/api/v1/automation/conversations/" + conv + "/close", Token: token,
		Body: `{"platform":"make"}`}), rest.CloseLimit, 3600)
	// Other routes still answer, with the general budget minus the 10 closes
	// (the refused one did not count) and this request.
	r := do(t, srv.URL, request{Path: "/v1/oauth/me", Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("after the close limit: status %d", r.Status)
	}
	if got, want := header(t, r, "X-RateLimit-Remaining"), rest.AccountLimit-rest.CloseLimit-1; got != want || header(t, r, "X-RateLimit-Limit") != rest.AccountLimit {
		t.Errorf("X-RateLimit-Remaining %d, want %d of %d", got, want, rest.AccountLimit)
	}
}

// TestRateLimitWindow: a spent budget is whole again once the sliding
// window has passed (a short window stands in for the minute).
func TestRateLimitWindow(t *testing.T) {
	w := shared(t)
	const window = 300 * time.Millisecond
	srv := limitedServer(t, w, window.String())
	token := w.token(t, w.B.UserID, newClient(t, w), assistloop.AllScopes...)
	conv := newConversation(t, w)
	closeOnce := func() *response {
		return do(t, srv.URL, request{Method: "POST", Path: "/v1/automation/conversations/" + conv + "/close", Token: token, Body: `{"platform":"make"}`})
	}
	for i := range rest.CloseLimit {
		if r := closeOnce(); r.Status != http.StatusOK {
			t.Fatalf("close %d: %d", i+1, r.Status)
		}
	}
	// The sliding window weighs the previous window in: after two windows
	// nothing of the burst is left.
	time.Sleep(2*window + 50*time.Millisecond)
	r := closeOnce()
	if r.Status != http.StatusOK {
		t.Fatalf("after the window: status %d: %s", r.Status, r.Body)
	}
	if got := header(t, r, "X-RateLimit-Remaining"); got != rest.CloseLimit-1 {
		t.Errorf("after the window: X-RateLimit-Remaining %d, want %d", got, rest.CloseLimit-1)
	}
}

// redisClient connects to the Redis on 127.0.0.1:6379 the tests use.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Skipf("no Redis on 127.0.0.1:6379: %v", err)
	}
	return c
}

// TestRateLimitRedisShared: two instances with Redis counters share one
// budget per account.
func TestRateLimitRedisShared(t *testing.T) {
	w := shared(t)
	rc := redisClient(t)
	prefix := "assistloop-test:" + assistloop.RandomString(8)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rc.Keys(ctx, prefix+":*").Result()
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
	})
	var instances []*httptest.Server
	for range 2 {
		h, err := rest.New(rest.Options{Executor: w.app.Executor, Tokens: w.app.Tokens,
			RateLimit: rest.RateLimitOptions{Window: time.Hour, Redis: rc, RedisPrefix: prefix}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.StripPrefix("/v1", h))
		t.Cleanup(srv.Close)
		instances = append(instances, srv)
	}
	token := w.token(t, w.B.UserID, newClient(t, w), assistloop.AllScopes...)
	for i := range rest.AccountLimit {
		r := do(t, instances[i%2].URL, request{Path: "/v1/oauth/me", Token: token})
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i+1, r.Status, r.Body)
		}
		if got, want := header(t, r, "X-RateLimit-Remaining"), rest.AccountLimit-i-1; got != want {
			t.Fatalf("request %d on instance %d: X-RateLimit-Remaining %d, want %d", i+1, i%2, got, want)
		}
	}
	for _, srv := range instances {
		checkTooMany(t, do(t, srv.URL, request{Path: "/v1/oauth/me", Token: token}), rest.AccountLimit, 3600)
	}
	keys, err := rc.Keys(context.Background(), prefix+":all:*").Result()
	if err != nil || len(keys) == 0 {
		t.Errorf("no counters under %s in Redis (%v)", prefix, err)
	}
}

// TestRateLimitRedisURL: the service wires REDIS_URL into the limiter, so
// two service instances share one budget.
func TestRateLimitRedisURL(t *testing.T) {
	w := shared(t)
	redisClient(t)
	env := map[string]string{"RATE_LIMIT_WINDOW": "1h", "REDIS_URL": "redis://127.0.0.1:6379/0"}
	var urls []string
	for range 2 {
		a := newApp(t, w.db, env)
		if a.Redis == nil {
			t.Fatal("REDIS_URL set but the app has no Redis client")
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		t.Cleanup(func() { a.Redis.Close() })
		urls = append(urls, srv.URL)
	}
	// A fresh account: its counters are keyed by a new client id.
	token := w.token(t, w.B.UserID, newClient(t, w), assistloop.AllScopes...)
	for i := range rest.AccountLimit {
		if r := do(t, urls[i%2], request{Path: "/v1/oauth/me", Token: token}); r.Status != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, r.Status)
		}
	}
	checkTooMany(t, do(t, urls[0], request{Path: "/v1/oauth/me", Token: token}), rest.AccountLimit, 3600)
	checkTooMany(t, do(t, urls[1], request{Path: "/api/v1/oauth/me", Token: token}), rest.AccountLimit, 3600)
}

// TestRateLimitAnonymous: requests without a valid token, to unknown routes
// or to the public OpenAPI document count per client address, carry the
// rate-limit headers like every other response, and are refused past the
// budget; an authenticated account's budget is not touched.
func TestRateLimitAnonymous(t *testing.T) {
	w := shared(t)
	srv := limitedServer(t, w, "1h")
	requests := []request{
		{Path: "/v1/oauth/me"},
		{Path: "/v1/oauth/me", Token: "alat_guessed-token"},
		{Path: "/api/v1/no/such/route"},
		{Path: "/v1/openapi.json"},
	}
	for i := range rest.AccountLimit {
		req := requests[i%len(requests)]
		req.Undocumented = req.Path == "/api/v1/no/such/route"
		r := do(t, srv.URL, req)
		if r.Status == http.StatusTooManyRequests {
			t.Fatalf("request %d refused: %s", i+1, r.Body)
		}
		if got, want := header(t, r, "X-RateLimit-Remaining"), rest.AccountLimit-i-1; got != want || header(t, r, "X-RateLimit-Limit") != rest.AccountLimit {
			t.Fatalf("request %d (%s): remaining %d, want %d", i+1, req.Path, got, want)
		}
	}
	checkTooMany(t, do(t, srv.URL, request{Path: "/v1/oauth/me", Token: "alat_another-guess"}), rest.AccountLimit, 3600)
	if r := do(t, srv.URL, request{Path: "/v1/oauth/me", Token: w.B.Token}); r.Status != http.StatusOK || header(t, r, "X-RateLimit-Remaining") != rest.AccountLimit-1 {
		t.Errorf("a valid token from the same address: %d, remaining %s", r.Status, r.Header.Get("X-RateLimit-Remaining"))
	}
}
