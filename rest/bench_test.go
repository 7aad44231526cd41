package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/pgtest"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/rest"
)

// The benchmarks compare each REST route with the same GraphQL document
// sent to POST /graphql, side by side in one run, over a workspace with
// benchConversations conversations. `make bench` runs them; `make test`
// does not, so it never loads the data.
const (
	benchConversations = 100_000
	benchMessages      = 300
)

type benchWorld struct {
	srv          *httptest.Server
	client       *http.Client
	token        string
	agentID      string
	conversation uuid.UUID
}

var (
	benchOnce sync.Once
	benchW    *benchWorld
	benchErr  error
)

func loadBench(b *testing.B) *benchWorld {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		benchW, benchErr = buildBench(pgtest.DSN(b))
		if benchErr == nil {
			b.Logf("loaded %d conversations and %d messages in %s", benchConversations, benchMessages, time.Since(start).Round(time.Millisecond))
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchW
}

// warm sends each request of p a few times, so connections, caches and
// query plans are warm before measuring.
func (w *benchWorld) warm(b *testing.B, p pair) {
	b.Helper()
	for range 50 {
		if err := w.call(p.rest(), p.n, false); err != nil {
			b.Fatal(err)
		}
		if err := w.call(p.graphQL(), p.n, true); err != nil {
			b.Fatal(err)
		}
	}
}

func buildBench(dsn string) (*benchWorld, error) {
	ctx := context.Background()
	db, err := postgres.Open(dsn)
	if err != nil {
		return nil, err
	}
	// The limiter runs, as in production, but a 1ms window never refuses.
	a := newApp(nil, db, map[string]string{"RATE_LIMIT_WINDOW": "1ms"})
	u, org, agent, err := a.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{Email: "bench@example.com",
		Password: "bench-password", Name: "Bench", OrganizationName: "Bench Org", AgentName: "Bench Agent"})
	if err != nil {
		return nil, err
	}
	token, _, err := a.Tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: u.ID, Scopes: assistloop.AllScopes})
	if err != nil {
		return nil, err
	}
	conv := uuid.New()
	if err := loadRows(ctx, db, org.ID, agent.ID, conv); err != nil {
		return nil, err
	}
	srv := httptest.NewServer(a.Handler())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return &benchWorld{srv: srv, client: client, token: token, agentID: agent.ID, conversation: conv}, nil
}

// loadRows inserts the conversations, their customers, and the messages of
// the benchmarked conversation (the newest) set-wise in the database.
func loadRows(ctx context.Context, db *bun.DB, orgID, agentID string, conv uuid.UUID) error {
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		stmts := []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO chat_users (id, organization_id, name, email, country_code, created_at)
			  SELECT 'chu_' || lpad(g::text, 20, '0'), ?, 'Customer ' || g, 'customer' || g || '@example.com', 'US',
			         now() - interval '30 days'
			  FROM generate_series(1, ?) AS g`, []any{orgID, benchConversations}},
			{`INSERT INTO conversations (id, organization_id, agent_id, chat_user_id, session_id, response_mode, status,
			                             created_at, updated_at)
			  SELECT CASE WHEN g = 1 THEN CAST(? AS uuid) ELSE gen_random_uuid() END, ?, ?, 'chu_' || lpad(g::text, 20, '0'),
			         'sess_' || lpad(g::text, 20, '0'),
			         CASE WHEN g % 3 = 0 THEN 'human' ELSE 'ai' END, CASE WHEN g % 4 = 0 THEN 'closed' ELSE 'open' END,
			         now() - g * interval '1 second', now() - g * interval '1 second'
			  FROM generate_series(1, ?) AS g`, []any{conv, orgID, agentID, benchConversations}},
			{`INSERT INTO messages (id, conversation_id, organization_id, type, responder_type, content, created_at)
			  SELECT gen_random_uuid(), ?, ?,
			         CASE WHEN g % 10 = 0 THEN 'platform_action' WHEN g % 2 = 0 THEN 'agent' ELSE 'guest' END,
			         CASE WHEN g % 10 <> 0 AND g % 2 = 0 THEN 'ai' END,
			         'Message ' || g || ': I ordered a blue jacket last week and it has not arrived yet, can you check.',
			         now() - g * interval '1 second'
			  FROM generate_series(1, ?) AS g`, []any{conv, orgID, benchMessages}},
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
				return fmt.Errorf("bench load: %w\n%s", err, db.QueryGen().FormatQuery(s.sql, s.args...))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Vacuum now, so autovacuum does not wake up during the measurements
	// and the visibility map allows index-only reads, as on a settled table.
	_, err = db.ExecContext(ctx, `VACUUM (ANALYZE) chat_users, conversations, messages`)
	return err
}

// call performs one request and checks that it succeeded with n items.
func (w *benchWorld) call(req *http.Request, n int, graphQL bool) error {
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	if n < 0 {
		return nil
	}
	if graphQL {
		if bytes.Contains(body, []byte(`"errors"`)) {
			return fmt.Errorf("GraphQL errors: %s", body)
		}
		if got := bytes.Count(body, []byte(`"uuid"`)); got < n {
			return fmt.Errorf("%d items, want %d", got, n)
		}
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || len(items) != n {
		return fmt.Errorf("%d items (%v), want %d", len(items), err, n)
	}
	return nil
}

func (w *benchWorld) restRequest(path string) func() *http.Request {
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+w.token)
		return req
	}
}

func (w *benchWorld) graphQLRequest(document string, vars map[string]any) func() *http.Request {
	body, err := json.Marshal(map[string]any{"query": document, "variables": vars})
	if err != nil {
		panic(err)
	}
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+w.token)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
}

// pair is one REST route and its GraphQL equivalent.
type pair struct {
	rest, graphQL func() *http.Request
	n             int
}

func (w *benchWorld) pairs() map[string]pair {
	list := "/automation/agents/{agentUuid}/conversations/list"
	find := "/automation/conversations/{conversationUuid}/messages/find"
	return map[string]pair{
		"list": {
			rest: w.restRequest("/v1/automation/agents/" + w.agentID + "/conversations/list?per_page=100"),
			graphQL: w.graphQLRequest(rest.Document(list), map[string]any{"agentUuid": w.agentID,
				"filter": map[string]any{}, "first": 100, "offset": 0}),
			n: 100,
		},
		"find": {
			rest: w.restRequest("/v1/automation/conversations/" + w.conversation.String() + "/messages/find?per_page=100"),
			graphQL: w.graphQLRequest(rest.Document(find), map[string]any{"conversationUuid": w.conversation.String(),
				"filter": map[string]any{"types": []string{"GUEST", "AGENT"}}, "first": 100, "offset": 0}),
			n: 100,
		},
	}
}

// BenchmarkRESTvsGraphQL alternates a REST request and the equivalent
// POST /graphql request (swapping which goes first each iteration) from one
// client and reports each one's mean, p50 and p99 latency, requests per
// second (1/mean) and the REST/GraphQL ratio of the means.
func BenchmarkRESTvsGraphQL(b *testing.B) {
	w := loadBench(b)
	for _, name := range []string{"list", "find"} {
		p := w.pairs()[name]
		b.Run(name, func(b *testing.B) {
			w.warm(b, p)
			restLat := make([]time.Duration, 0, b.N)
			gqlLat := make([]time.Duration, 0, b.N)
			timed := func(req *http.Request, graphQL bool) time.Duration {
				start := time.Now()
				if err := w.call(req, -1, graphQL); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			b.ResetTimer()
			for i := range b.N {
				rr, gr := p.rest(), p.graphQL()
				if i%2 == 0 {
					restLat = append(restLat, timed(rr, false))
					gqlLat = append(gqlLat, timed(gr, true))
				} else {
					gqlLat = append(gqlLat, timed(gr, true))
					restLat = append(restLat, timed(rr, false))
				}
			}
			b.StopTimer()
			restMean, gqlMean := report(b, "rest", restLat), report(b, "gql", gqlLat)
			b.ReportMetric(1e9/restMean, "rest-req/s")
			b.ReportMetric(1e9/gqlMean, "gql-req/s")
			b.ReportMetric(restMean/gqlMean, "rest/gql")
		})
	}
}

// report adds an endpoint's latency metrics and returns its mean in ns.
func report(b *testing.B, name string, lat []time.Duration) float64 {
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	mean := float64(sum) / float64(len(lat))
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(mean, name+"-ns/req")
	b.ReportMetric(pct(0.50), name+"-p50-ms")
	b.ReportMetric(pct(0.99), name+"-p99-ms")
	return mean
}

// BenchmarkConcurrent runs 2 × GOMAXPROCS clients at once, each
// alternating a REST request and the equivalent GraphQL one, and reports
// the requests per second of the mix and each kind's latency under that
// load (REST and GraphQL see the same contention).
func BenchmarkConcurrent(b *testing.B) {
	w := loadBench(b)
	for _, name := range []string{"list", "find"} {
		p := w.pairs()[name]
		b.Run(name, func(b *testing.B) {
			w.warm(b, p)
			var mu sync.Mutex
			var restLat, gqlLat []time.Duration
			b.SetParallelism(2)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var rl, gl []time.Duration
				for i := 0; pb.Next(); i++ {
					req, graphQL, lat := p.rest, false, &rl
					if i%2 == 1 {
						req, graphQL, lat = p.graphQL, true, &gl
					}
					t := time.Now()
					if err := w.call(req(), -1, graphQL); err != nil {
						b.Error(err)
						return
					}
					*lat = append(*lat, time.Since(t))
				}
				mu.Lock()
				restLat, gqlLat = append(restLat, rl...), append(gqlLat, gl...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if len(restLat) == 0 || len(gqlLat) == 0 {
				return
			}
			b.ReportMetric(float64(len(restLat)+len(gqlLat))/elapsed.Seconds(), "req/s")
			restMean, gqlMean := report(b, "rest", restLat), report(b, "gql", gqlLat)
			b.ReportMetric(restMean/gqlMean, "rest/gql")
		})
	}
}
