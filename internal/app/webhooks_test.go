package app_test

import (
	"bytes"
	"encoding/json"
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
	a.Webhooks.RootCAs = rc.roots()
	a.Webhooks.Retry.Base = 20 * time.Millisecond
	if tune != nil {
		tune(a)
	}
	return a, serve(t, a)
}

// TestWebhookEndToEnd subscribes through GraphQL (the REST route is a thin
// adapter over the same mutation), starts a conversation and requests a
// handoff, and checks that an HTTPS receiver gets the documented payloads,
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
	_ = http.StatusOK
}
