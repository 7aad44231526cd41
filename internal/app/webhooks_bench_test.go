package app_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// benchReceiver is a fast HTTPS receiver that notes when the first
// delivery of each conversation arrived.
type benchReceiver struct {
	*httptest.Server
	count   atomic.Int64
	mu      sync.Mutex
	arrived map[string]time.Time // conversation uuid → first arrival
	waiters map[string]chan struct{}
}

func newBenchReceiver(b *testing.B) *benchReceiver {
	br := &benchReceiver{arrived: map[string]time.Time{}, waiters: map[string]chan struct{}{}}
	br.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Data struct{ Conversation struct{ UUID string } }
		}
		_ = json.Unmarshal(body, &p)
		br.mu.Lock()
		if _, seen := br.arrived[p.Data.Conversation.UUID]; !seen {
			br.arrived[p.Data.Conversation.UUID] = at
			if c := br.waiters[p.Data.Conversation.UUID]; c != nil {
				close(c)
			}
		}
		br.mu.Unlock()
		br.count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(br.Close)
	return br
}

func (br *benchReceiver) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(br.Certificate())
	return pool
}

// expect returns a channel closed when the conversation's first delivery
// arrives.
func (br *benchReceiver) expect(conv string) <-chan struct{} {
	br.mu.Lock()
	defer br.mu.Unlock()
	c := make(chan struct{})
	if _, seen := br.arrived[conv]; seen {
		close(c)
	} else {
		br.waiters[conv] = c
	}
	return c
}

func (br *benchReceiver) arrivedAt(conv string) time.Time {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.arrived[conv]
}

// benchApp serves the whole service with its workers, delivering to br.
func benchApp(b *testing.B, br *benchReceiver) (*app.App, string, account) {
	a := newApp(b, testConfig(b))
	a.WebhookOptions.RootCAs = br.roots()
	base := serve(b, a)
	return a, base, newAccount(b, a, "Acme Corporation")
}

// userCtx acts for the account's user, as the GraphQL mutation would.
func userCtx(acc account) context.Context {
	return assistloop.WithPrincipal(context.Background(),
		&assistloop.Principal{UserID: acc.UserID, Scopes: assistloop.AllScopes})
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// BenchmarkWebhookLatency measures, one event at a time on an otherwise
// idle service, the time from the commit of a startConversation to the
// receiver getting its webhook. Reports p50/p99 in ms.
func BenchmarkWebhookLatency(b *testing.B) {
	br := newBenchReceiver(b)
	a, base, acc := benchApp(b, br)
	subscribe(b, base, acc, br.URL+"/hook", "new_conversation")
	ctx := userCtx(acc)
	var lat []time.Duration
	start := func() time.Duration {
		conv, _, err := a.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: acc.AgentID, Content: "Hi"})
		committed := time.Now() // StartConversation returns right after COMMIT
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-br.expect(conv.ID.String()):
		case <-time.After(30 * time.Second):
			b.Fatal("no webhook within 30s")
		}
		return br.arrivedAt(conv.ID.String()).Sub(committed)
	}
	for range 5 { // warm up connections and caches
		start()
	}
	b.ResetTimer()
	for b.Loop() {
		lat = append(lat, start())
		time.Sleep(5 * time.Millisecond) // idle between events
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkWebhookFanOut1000 measures one event fanned out to 1,000
// subscriptions: from the commit to the receiver having all 1,000.
func BenchmarkWebhookFanOut1000(b *testing.B) {
	br := newBenchReceiver(b)
	a, _, acc := benchApp(b, br)
	const subs = 1000
	ctx := userCtx(acc)
	for i := range subs {
		if _, err := a.Services.Webhooks.SubscribeWebhook(ctx, assistloop.SubscribeWebhookInput{
			OrganizationID: &acc.OrganizationID, AgentID: &acc.AgentID,
			TargetURL: ptr(fmt.Sprintf("%s/hook/%d", br.URL, i)), Event: ptr("new_conversation"), Platform: ptr("make"),
		}); err != nil {
			b.Fatal(err)
		}
	}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		want := br.count.Load() + subs
		_, _, err := a.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: acc.AgentID, Content: "Hi"})
		committed := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for br.count.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d deliveries after 60s", br.count.Load()-want+subs, subs)
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(committed))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(percentile(took, 0.5).Milliseconds()), "ms/1000-deliveries")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}

// BenchmarkWebhookThroughput measures sustained deliveries per second to a
// fast local receiver: 100 subscriptions, 100 events committed in a burst
// by four writers, timed from the first commit until every delivery has
// arrived and until every delivery is recorded as succeeded.
func BenchmarkWebhookThroughput(b *testing.B) {
	br := newBenchReceiver(b)
	a, _, acc := benchApp(b, br)
	const subs, events = 100, 100 // 10,000 deliveries per iteration
	ctx := userCtx(acc)
	for i := range subs {
		if _, err := a.Services.Webhooks.SubscribeWebhook(ctx, assistloop.SubscribeWebhookInput{
			OrganizationID: &acc.OrganizationID, AgentID: &acc.AgentID,
			TargetURL: ptr(fmt.Sprintf("%s/hook/%d", br.URL, i)), Event: ptr("new_conversation"), Platform: ptr("make"),
		}); err != nil {
			b.Fatal(err)
		}
	}
	var received, recorded []float64
	burst := func() (receivedRate, recordedRate float64) {
		want := br.count.Load() + subs*events
		first := time.Now()
		var wg sync.WaitGroup
		for range 4 { // four concurrent chat backends
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range events / 4 {
					if _, _, err := a.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: acc.AgentID, Content: "Hi"}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		n := int64(subs * (events / 4) * 4)
		want = want - subs*events + n
		deadline := time.Now().Add(120 * time.Second)
		for br.count.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("deliveries still missing after 120s")
			}
			time.Sleep(time.Millisecond)
		}
		receivedRate = float64(n) / time.Since(first).Seconds()
		for {
			var pending int
			if err := a.DB.NewRaw("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND organization_id = ?",
				acc.OrganizationID).Scan(context.Background(), &pending); err != nil {
				b.Fatal(err)
			}
			if pending == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		return receivedRate, float64(n) / time.Since(first).Seconds()
	}
	burst() // warm up: connections to the receiver, caches
	b.ResetTimer()
	for b.Loop() {
		rcv, rec := burst()
		received, recorded = append(received, rcv), append(recorded, rec)
	}
	b.StopTimer()
	b.ReportMetric(slices.Min(received), "received-deliveries/s")
	b.ReportMetric(slices.Min(recorded), "recorded-deliveries/s")
}

func ptr[T any](v T) *T { return &v }
