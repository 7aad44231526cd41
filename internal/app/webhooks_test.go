package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// golden reads a payload template and compacts it: deliveries are compact
// JSON with the reference's field order.
func golden(t *testing.T, name string, values map[string]string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(fill(string(raw), values))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// verify checks a delivery with the Standard Webhooks reference verifier.
func verify(t *testing.T, secret string, d delivery) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("secret %q rejected by the reference library: %v", secret, err)
	}
	if err := wh.Verify(d.Body, d.Header); err != nil {
		t.Errorf("reference verifier rejected the delivery: %v", err)
	}
}

// startWebhookApp serves the whole service with its webhook workers,
// trusting rc's certificate; tune adjusts the engine's options.
func startWebhookApp(t *testing.T, rc *receiver, tune func(*app.App)) (*app.App, string) {
	t.Helper()
	a := newApp(t, testConfig(t))
	a.WebhookOptions.RootCAs = rc.roots()
	a.WebhookOptions.Retry.Base = 20 * time.Millisecond
	if tune != nil {
		tune(a)
	}
	return a, serve(t, a)
}

// TestWebhookEndToEnd subscribes through REST (as Make does), starts a
// conversation through GraphQL and requests a handoff, and checks that an HTTPS receiver gets the documented payloads,
// byte for byte, signed so that the Standard Webhooks reference verifier
// accepts them.
func TestWebhookEndToEnd(t *testing.T) {
	rc := newReceiver(t, nil)
	a, base := startWebhookApp(t, rc, nil)
	acc := newAccount(t, a, "Acme Corporation")
	_, newSecret := subscribe(t, base, acc, rc.URL+"/new", "new_conversation")
	_, handoffSecret := subscribe(t, base, acc, rc.URL+"/handoff", "human_handoff_required")
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == handoffSecret {
		t.Fatalf("secrets %q, %q: want distinct whsec_ secrets", newSecret, handoffSecret)
	}

	conv := startConversation(t, base, acc, "Hi, I need help with my order").StartConversation
	d := rc.next(t)
	if d.Path != "/new" {
		t.Fatalf("first delivery went to %s, want /new", d.Path)
	}
	verify(t, newSecret, d)
	eventID := d.Header.Get("webhook-id")
	want := golden(t, "webhook_new_conversation.json", map[string]string{
		"event_id":                eventID,
		"timestamp":               assistloop.FormatTimestamp(conv.Conversation.CreatedAt),
		"conversation_uuid":       conv.Conversation.UUID,
		"conversation_created_at": assistloop.FormatTimestamp(conv.Conversation.CreatedAt),
		"agent_uuid":              acc.AgentID,
		"organization_uuid":       acc.OrganizationID,
		"message_id":              conv.Message.ID,
		"message_created_at":      assistloop.FormatTimestamp(conv.Message.CreatedAt),
	})
	if !bytes.Equal(d.Body, want) {
		t.Errorf("new_conversation body:\n got %s\nwant %s", d.Body, want)
	}
	checkHeaders(t, d)

	var sent struct {
		SendGuestMessage struct {
			Message struct {
				ID        string
				CreatedAt time.Time
			}
		}
	}
	mustGQL(t, base, acc.Token, `mutation($id: ID!) { sendGuestMessage(input: {conversationUuid: $id, content: "I need to speak with a human agent"}) { message { id createdAt } } }`,
		map[string]any{"id": conv.Conversation.UUID}, &sent)
	var handoff struct {
		RequestHumanHandoff struct{ Conversation struct{ UpdatedAt time.Time } }
	}
	mustGQL(t, base, acc.Token, `mutation($id: ID!) { requestHumanHandoff(input: {conversationUuid: $id, reason: "angry"}) { conversation { updatedAt } } }`,
		map[string]any{"id": conv.Conversation.UUID}, &handoff)
	d = rc.next(t)
	if d.Path != "/handoff" {
		t.Fatalf("second delivery went to %s, want /handoff", d.Path)
	}
	verify(t, handoffSecret, d)
	want = golden(t, "webhook_human_handoff_required.json", map[string]string{
		"event_id":                d.Header.Get("webhook-id"),
		"timestamp":               assistloop.FormatTimestamp(handoff.RequestHumanHandoff.Conversation.UpdatedAt),
		"conversation_uuid":       conv.Conversation.UUID,
		"conversation_created_at": assistloop.FormatTimestamp(conv.Conversation.CreatedAt),
		"agent_uuid":              acc.AgentID,
		"organization_uuid":       acc.OrganizationID,
		"message_id":              sent.SendGuestMessage.Message.ID,
		"message_created_at":      assistloop.FormatTimestamp(sent.SendGuestMessage.Message.CreatedAt),
	})
	if !bytes.Equal(d.Body, want) {
		t.Errorf("human_handoff_required body:\n got %s\nwant %s", d.Body, want)
	}
	checkHeaders(t, d)
	if d.Header.Get("webhook-id") == eventID {
		t.Error("two events share a webhook-id")
	}
	if n := len(rc.requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}

	// Both attempts are counted in the metrics (recorded just after the
	// receiver answered).
	eventually(t, "webhook attempt metrics", func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `assistloop_webhook_attempts_total{outcome="succeeded",status="2xx"} 2`) &&
			strings.Contains(string(body), "assistloop_webhook_attempt_duration_seconds_count 2")
	})
}

// checkHeaders checks what Standard Webhooks requires beyond the signature.
func checkHeaders(t *testing.T, d delivery) {
	t.Helper()
	var body struct{ ID string }
	if err := json.Unmarshal(d.Body, &body); err != nil {
		t.Fatal(err)
	}
	if got := d.Header.Get("webhook-id"); got != body.ID {
		t.Errorf("webhook-id %q, payload id %q: want equal", got, body.ID)
	}
	if got := d.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if !strings.HasPrefix(d.Header.Get("webhook-signature"), "v1,") {
		t.Errorf("webhook-signature %q: want v1,…", d.Header.Get("webhook-signature"))
	}
}

const deliveryLogQuery = `query($id: ID!) {
  webhookSubscription(id: $id) {
    status disabledAt disabledReason
    deliveries(first: 10) { nodes {
      id status attemptCount maxAttempts nextAttemptAt lastStatusCode lastError completedAt
      event { id type }
      attempts { number attemptedAt statusCode latencyMs error nextAttemptAt }
    } }
  }
}`

type attemptLog struct {
	Number        int
	AttemptedAt   time.Time
	StatusCode    *int
	LatencyMs     int
	Error         *string
	NextAttemptAt *time.Time
}

type deliveryLog struct {
	ID             string
	Status         string
	AttemptCount   int
	MaxAttempts    int
	NextAttemptAt  *time.Time
	LastStatusCode *int
	LastError      *string
	CompletedAt    *time.Time
	Event          struct{ ID, Type string }
	Attempts       []attemptLog
}

type subscriptionLog struct {
	Status         string
	DisabledAt     *time.Time
	DisabledReason *string
	Deliveries     struct{ Nodes []deliveryLog }
}

func readLog(t *testing.T, base string, acc account, id string) subscriptionLog {
	t.Helper()
	var out struct{ WebhookSubscription subscriptionLog }
	mustGQL(t, base, acc.Token, deliveryLogQuery, map[string]any{"id": id}, &out)
	return out.WebhookSubscription
}

func statusCodes(as []attemptLog) []int {
	out := make([]int, len(as))
	for i, a := range as {
		if a.StatusCode != nil {
			out[i] = *a.StatusCode
		}
	}
	return out
}

// TestWebhookRetries: 500, 500, 200 is three attempts of one delivery, all
// with the same webhook-id and growing gaps, each recorded.
func TestWebhookRetries(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	const base = 200 * time.Millisecond
	a, url := startWebhookApp(t, rc, func(a *app.App) {
		a.WebhookOptions.Retry.Base = base
		a.WebhookOptions.Retry.Rand = func() float64 { return 0.5 } // delays: 150 ms, then 300 ms
	})
	acc := newAccount(t, a, "Acme Corporation")
	subID, secret := subscribe(t, url, acc, rc.URL+"/hook", "new_conversation")
	startConversation(t, url, acc, "Hi, I need help with my order")

	ds := []delivery{rc.next(t), rc.next(t), rc.next(t)}
	for _, d := range ds {
		verify(t, secret, d)
		if d.Header.Get("webhook-id") != ds[0].Header.Get("webhook-id") {
			t.Errorf("webhook-id changed between attempts: %q, %q", ds[0].Header.Get("webhook-id"), d.Header.Get("webhook-id"))
		}
		if !bytes.Equal(d.Body, ds[0].Body) {
			t.Error("the payload changed between attempts")
		}
	}
	gap1, gap2 := ds[1].At.Sub(ds[0].At), ds[2].At.Sub(ds[1].At)
	// A retry is never sent before it is due: the gaps are at least the
	// scheduled delays, which double.
	if gap1 < 150*time.Millisecond || gap2 < 300*time.Millisecond || gap2 <= gap1 {
		t.Errorf("gaps %v, %v: want ≥150ms, ≥300ms and growing", gap1, gap2)
	}

	var log subscriptionLog
	eventually(t, "the third attempt to be recorded", func() bool {
		log = readLog(t, url, acc, subID)
		return len(log.Deliveries.Nodes) == 1 && log.Deliveries.Nodes[0].Status == "SUCCEEDED"
	})
	d := log.Deliveries.Nodes[0]
	if got := statusCodes(d.Attempts); len(got) != 3 || got[0] != 500 || got[1] != 500 || got[2] != 204 {
		t.Errorf("attempt status codes %v, want [500 500 204]", got)
	}
	if d.AttemptCount != 3 || d.MaxAttempts != 4 || d.NextAttemptAt != nil || d.CompletedAt == nil ||
		d.LastStatusCode == nil || *d.LastStatusCode != 204 || d.LastError != nil {
		t.Errorf("delivery %+v", d)
	}
	if d.Event.ID != ds[0].Header.Get("webhook-id") || d.Event.Type != "NEW_CONVERSATION" {
		t.Errorf("delivery event %+v, webhook-id %s", d.Event, ds[0].Header.Get("webhook-id"))
	}
	for i, at := range d.Attempts {
		if at.Number != i+1 {
			t.Errorf("attempt %d numbered %d", i+1, at.Number)
		}
		failed := i < 2
		if failed != (at.Error != nil) || failed != (at.NextAttemptAt != nil) {
			t.Errorf("attempt %d: error %v, next attempt %v", i+1, at.Error, at.NextAttemptAt)
		}
		if failed && !at.NextAttemptAt.After(at.AttemptedAt) {
			t.Errorf("attempt %d: next attempt %v not after %v", i+1, at.NextAttemptAt, at.AttemptedAt)
		}
	}
	if len(rc.requests()) != 3 {
		t.Errorf("%d requests, want 3", len(rc.requests()))
	}
}

// TestWebhookGiveUp: after 1 + 3 failed attempts the delivery fails for
// good; Retry-After is honoured.
func TestWebhookGiveUp(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	a, url := startWebhookApp(t, rc, nil) // backoff 20 ms: Retry-After (1 s) dominates
	acc := newAccount(t, a, "Acme Corporation")
	subID, _ := subscribe(t, url, acc, rc.URL+"/hook", "new_conversation")
	startConversation(t, url, acc, "Hi")
	ds := []delivery{rc.next(t), rc.next(t), rc.next(t), rc.next(t)}
	for i := 1; i < len(ds); i++ {
		if gap := ds[i].At.Sub(ds[i-1].At); gap < time.Second {
			t.Errorf("retry %d came %v after the previous attempt despite Retry-After: 1", i, gap)
		}
	}
	var log subscriptionLog
	eventually(t, "the delivery to fail", func() bool {
		log = readLog(t, url, acc, subID)
		return len(log.Deliveries.Nodes) == 1 && log.Deliveries.Nodes[0].Status == "FAILED"
	})
	if got := statusCodes(log.Deliveries.Nodes[0].Attempts); len(got) != 4 {
		t.Errorf("attempts %v, want 4", got)
	}
	if last := log.Deliveries.Nodes[0].Attempts[3]; last.NextAttemptAt != nil {
		t.Errorf("the last attempt scheduled another at %v", last.NextAttemptAt)
	}
	if log.Status != "ACTIVE" {
		t.Errorf("subscription %s after failures, want ACTIVE", log.Status)
	}
	select {
	case d := <-rc.arrived:
		t.Errorf("a fifth attempt arrived: %s", d.Path)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWebhookGone: 410 disables the subscription; later events are not
// delivered to it.
func TestWebhookGone(t *testing.T) {
	rc := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
	a, url := startWebhookApp(t, rc, nil)
	acc := newAccount(t, a, "Acme Corporation")
	subID, _ := subscribe(t, url, acc, rc.URL+"/gone", "new_conversation")
	startConversation(t, url, acc, "one")
	rc.next(t)
	var log subscriptionLog
	eventually(t, "the subscription to be disabled", func() bool {
		log = readLog(t, url, acc, subID)
		return log.Status == "DISABLED"
	})
	if log.DisabledAt == nil || log.DisabledReason == nil || !strings.Contains(*log.DisabledReason, "410") {
		t.Errorf("disabled at %v, reason %v", log.DisabledAt, log.DisabledReason)
	}
	if n := len(log.Deliveries.Nodes); n != 1 || log.Deliveries.Nodes[0].Status != "FAILED" ||
		len(log.Deliveries.Nodes[0].Attempts) != 1 {
		t.Fatalf("deliveries %+v, want one FAILED after one attempt", log.Deliveries.Nodes)
	}

	// A second subscription proves the next event is fanned out, while the
	// disabled one gets nothing.
	rc.setRespond(nil)
	subscribe(t, url, acc, rc.URL+"/live", "new_conversation")
	startConversation(t, url, acc, "two")
	if d := rc.next(t); d.Path != "/live" {
		t.Errorf("delivery to %s after 410, want /live only", d.Path)
	}
	if log = readLog(t, url, acc, subID); len(log.Deliveries.Nodes) != 1 {
		t.Errorf("the disabled subscription got %d deliveries, want 1", len(log.Deliveries.Nodes))
	}

	// Redelivering to a disabled subscription is a conflict.
	res := gql(t, url, acc.Token, `mutation($s: ID!, $e: ID!) { redeliverEvent(input: {subscriptionId: $s, eventId: $e}) { delivery { id } } }`,
		map[string]any{"s": subID, "e": log.Deliveries.Nodes[0].Event.ID})
	if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "CONFLICT" {
		t.Errorf("redeliver to a disabled webhook: %+v, want CONFLICT", res.Errors)
	}
}

// TestWebhookTimeout: a receiver slower than the attempt timeout is a
// failed attempt with the timeout recorded.
func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, r *http.Request, w http.ResponseWriter) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	a, url := startWebhookApp(t, rc, func(a *app.App) { a.WebhookOptions.Timeout = 300 * time.Millisecond })
	acc := newAccount(t, a, "Acme Corporation")
	subID, _ := subscribe(t, url, acc, rc.URL+"/slow", "new_conversation")
	startConversation(t, url, acc, "Hi")
	first, second := rc.next(t), rc.next(t)
	if first.Header.Get("webhook-id") != second.Header.Get("webhook-id") {
		t.Error("the retry after a timeout has another webhook-id")
	}
	var log subscriptionLog
	eventually(t, "the retry to succeed", func() bool {
		log = readLog(t, url, acc, subID)
		return len(log.Deliveries.Nodes) == 1 && log.Deliveries.Nodes[0].Status == "SUCCEEDED"
	})
	at := log.Deliveries.Nodes[0].Attempts
	if len(at) != 2 || at[0].StatusCode != nil || at[0].Error == nil || !strings.Contains(*at[0].Error, "timeout") ||
		at[0].LatencyMs < 300 {
		t.Fatalf("attempts %+v: want a first attempt with no status, a timeout error and ≥300 ms", at)
	}
	if at[1].StatusCode == nil || *at[1].StatusCode != 200 {
		t.Errorf("second attempt %+v", at[1])
	}
}
