package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/internal/webhook"
)

// countingQueue counts the deliveries an engine claims, by subscription
// (the package's tests share a database).
type countingQueue struct {
	assistloop.DeliveryQueue
	mu      sync.Mutex
	claimed map[string]int
}

func (q *countingQueue) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]*assistloop.DeliveryJob, error) {
	jobs, err := q.DeliveryQueue.ClaimDeliveries(ctx, limit, lease)
	q.mu.Lock()
	for _, j := range jobs {
		q.claimed[j.SubscriptionID]++
	}
	q.mu.Unlock()
	return jobs, err
}

// claims returns how many deliveries of the subscriptions the engine
// claimed.
func (q *countingQueue) claims(subscriptionIDs []string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, id := range subscriptionIDs {
		n += q.claimed[id]
	}
	return n
}

// worker is a running engine the test can stop.
type worker struct {
	queue  *countingQueue
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWorker(a *app.App, opts webhook.Options) *worker {
	w := &worker{queue: &countingQueue{DeliveryQueue: postgres.NewDeliveryQueue(a.Store), claimed: map[string]int{}}}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	webhook.NewEngine(w.queue, a.Executor, opts, testLogger()).Start(ctx, &w.wg)
	return w
}

// stop cancels the worker's context and waits until it has stopped.
func (w *worker) stop() {
	w.cancel()
	w.wg.Wait()
}

// distinctDeliveries counts the (event, subscription path) pairs received.
func distinctDeliveries(rc *receiver) map[string][]delivery {
	out := map[string][]delivery{}
	for _, d := range rc.requests() {
		k := d.Header.Get("webhook-id") + " " + d.Path
		out[k] = append(out[k], d)
	}
	return out
}

func countRows(t *testing.T, a *app.App, query string, args ...any) int {
	t.Helper()
	var n int
	if err := a.DB.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWebhookNoLossAcrossRestart stops a worker (cancels its context)
// while deliveries are pending and in flight, creates events it never saw,
// and starts a new worker: every event reaches every subscription at least
// once, and a repeated delivery carries the same webhook-id and body.
func TestWebhookNoLossAcrossRestart(t *testing.T) {
	rc := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	opts := a.WebhookOptions
	opts.RootCAs = rc.roots()
	opts.Concurrency, opts.ClaimBatch = 2, 2
	opts.Retry.Base = 20 * time.Millisecond
	// A hard stop: attempts in flight are abandoned at once rather than
	// given time to finish, the worst case for duplicates.
	opts.ShutdownGrace = time.Nanosecond
	acc := newAccount(t, a, "Acme Corporation")
	subscribe(t, base, acc, rc.URL+"/a", "new_conversation")
	subscribe(t, base, acc, rc.URL+"/b", "new_conversation")

	first := startWorker(a, opts)
	const n = 10
	for i := 0; i < n; i++ {
		startConversation(t, base, acc, "before the restart")
	}
	eventually(t, "a few deliveries", func() bool { return len(rc.requests()) >= 4 })
	first.stop()
	pending := countRows(t, a, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND organization_id = ?", acc.OrganizationID)
	leased := countRows(t, a, "SELECT count(*) FROM webhook_deliveries WHERE lease_token IS NOT NULL AND organization_id = ?", acc.OrganizationID)
	if pending == 0 {
		t.Fatal("no delivery was pending when the worker stopped: the test proves nothing")
	}
	if leased != 0 {
		t.Errorf("%d deliveries still leased by the stopped worker: its in-flight sends were not released", leased)
	}

	for i := 0; i < n; i++ {
		startConversation(t, base, acc, "while no worker runs")
	}
	if behind := countRows(t, a, `SELECT count(*) FROM events WHERE organization_id = ? AND (txid, seq) >
		(SELECT e.txid, e.seq FROM events e JOIN webhook_cursors c ON c.event_id = e.id WHERE c.name = 'webhooks')`, acc.OrganizationID); behind < n {
		t.Fatalf("%d events after the cursor, want at least %d", behind, n)
	}

	second := startWorker(a, opts)
	defer second.stop()
	eventually(t, "every event at every subscription", func() bool { return len(distinctDeliveries(rc)) == 2*2*n })
	eventually(t, "every delivery to succeed", func() bool {
		return countRows(t, a, "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded' AND organization_id = ?", acc.OrganizationID) == 2*2*n
	})
	if got := countRows(t, a, "SELECT count(*) FROM webhook_deliveries WHERE organization_id = ?", acc.OrganizationID); got != 2*2*n {
		t.Errorf("%d deliveries, want %d (one per event and subscription)", got, 2*2*n)
	}
	dups := 0
	for k, ds := range distinctDeliveries(rc) {
		var payload struct{ ID string }
		if err := json.Unmarshal(ds[0].Body, &payload); err != nil || payload.ID != ds[0].Header.Get("webhook-id") {
			t.Errorf("%s: payload id %q, webhook-id %q", k, payload.ID, ds[0].Header.Get("webhook-id"))
		}
		for _, d := range ds[1:] {
			dups++
			if !bytes.Equal(d.Body, ds[0].Body) {
				t.Errorf("%s: a repeated delivery has another body", k)
			}
		}
	}
	t.Logf("%d requests for %d deliveries (%d repeated), %d pending at the stop",
		len(rc.requests()), 2*2*n, dups, pending)
}

// TestWebhookWorkersNeverOverlap runs two workers on one database: no
// delivery is ever being sent by both at once, and, with every receiver
// answer a success, each is sent exactly once.
func TestWebhookWorkersNeverOverlap(t *testing.T) {
	rc := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		time.Sleep(time.Duration(rand.IntN(10)) * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	opts := a.WebhookOptions
	opts.RootCAs = rc.roots()
	opts.Concurrency, opts.ClaimBatch = 4, 2
	acc := newAccount(t, a, "Acme Corporation")
	var subs []string
	for _, path := range []string{"/a", "/b", "/c"} {
		id, _ := subscribe(t, base, acc, rc.URL+path, "new_conversation")
		subs = append(subs, id)
	}
	w1, w2 := startWorker(a, opts), startWorker(a, opts)
	defer w1.stop()
	defer w2.stop()
	const n = 30
	for i := 0; i < n; i++ {
		startConversation(t, base, acc, "hello")
	}
	eventually(t, "every delivery", func() bool { return len(distinctDeliveries(rc)) == 3*n })
	eventually(t, "every delivery to be recorded", func() bool {
		ok := countRows(t, a, "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded' AND organization_id = ?", acc.OrganizationID) == 3*n
		if !ok {
			var rows []struct {
				Status   string
				Attempts int
				Leased   bool
			}
			a.DB.NewRaw("SELECT status, attempts, lease_token IS NOT NULL AS leased FROM webhook_deliveries WHERE status <> 'succeeded' AND organization_id = ?", acc.OrganizationID).Scan(context.Background(), &rows)
			t.Logf("not yet: %+v", rows)
		}
		return ok
	})
	rc.mu.Lock()
	overlaps := rc.overlaps
	rc.mu.Unlock()
	if overlaps != 0 {
		t.Errorf("%d attempts overlapped another attempt of the same delivery", overlaps)
	}
	if got := len(rc.requests()); got != 3*n {
		t.Errorf("%d requests for %d deliveries", got, 3*n)
	}
	c1, c2 := w1.queue.claims(subs), w2.queue.claims(subs)
	if c1+c2 != 3*n || c1 == 0 || c2 == 0 {
		t.Errorf("claims %d + %d, want both workers busy and %d in all", c1, c2, 3*n)
	}
}

// TestFanOutEveryWorkspaceAndLostCursor: one engine serves every
// workspace (it acts as the system principal), and a cursor naming an
// event that no longer exists does not stop it.
func TestFanOutEveryWorkspaceAndLostCursor(t *testing.T) {
	rc := newReceiver(t, nil)
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	opts := a.WebhookOptions
	opts.RootCAs = rc.roots()
	opts.RestartDelay = 10 * time.Millisecond
	if _, err := a.DB.NewRaw(`INSERT INTO webhook_cursors (name, event_id) VALUES ('webhooks', gen_random_uuid())
		ON CONFLICT (name) DO UPDATE SET event_id = EXCLUDED.event_id`).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	accs := []account{newAccount(t, a, "Acme Corporation"), newAccount(t, a, "Other Inc")}
	for i, acc := range accs {
		subscribe(t, base, acc, rc.URL+"/"+acc.OrganizationID, "new_conversation")
		startConversation(t, base, accs[i], "hello")
	}
	w := startWorker(a, opts)
	defer w.stop()
	eventually(t, "both workspaces' deliveries", func() bool {
		paths := map[string]bool{}
		for _, d := range rc.requests() {
			paths[d.Path] = true
		}
		return paths["/"+accs[0].OrganizationID] && paths["/"+accs[1].OrganizationID]
	})
}

// TestWebhookGracefulStop: a worker told to stop lets the attempt in
// flight finish and records it, so the receiver sees no duplicate.
func TestWebhookGracefulStop(t *testing.T) {
	inFlight, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		if n == 1 {
			close(inFlight)
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	opts := a.WebhookOptions
	opts.RootCAs = rc.roots()
	acc := newAccount(t, a, "Acme Corporation")
	subID, _ := subscribe(t, base, acc, rc.URL+"/hook", "new_conversation")
	engine := []string{"webhook.(*Engine)", "postgres.(*EventService).StreamEvents"}
	before := goroutines(engine...)
	w := startWorker(a, opts)
	startConversation(t, base, acc, "Hi")
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery started")
	}
	w.cancel()
	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	w.wg.Wait()
	var status string
	if err := a.DB.NewRaw("SELECT status FROM webhook_deliveries WHERE subscription_id = ?", subID).Scan(context.Background(), &status); err != nil {
		t.Fatal(err)
	}
	if status != "succeeded" || len(rc.requests()) != 1 {
		t.Errorf("delivery %s after %d requests, want succeeded after 1", status, len(rc.requests()))
	}
	// The stopped engine leaves nothing running: no worker, no stream.
	eventually(t, "the engine's goroutines to end", func() bool { return goroutines(engine...) <= before })
}
