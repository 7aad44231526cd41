package app_test

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// TestSubscribeWebhookValidation: every problem is reported at once, under
// the REST parameter names, as BAD_USER_INPUT.
const subscribeMutation = `mutation($input: SubscribeWebhookInput!) {
  subscribeWebhook(input: $input) { secret subscription { id event status targetUrl platform externalId } }
}`

func TestSubscribeWebhookValidation(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	other := newAccount(t, a, "Other Inc")
	valid := func(change func(map[string]any)) map[string]any {
		in := map[string]any{
			"organizationUuid": acc.OrganizationID, "agentUuid": acc.AgentID,
			"targetUrl": "https://127.0.0.1:9/hook", "event": "new_conversation", "platform": "make",
		}
		change(in)
		return in
	}
	tests := []struct {
		name  string
		input map[string]any
		want  []string // fields with problems; none: accepted
	}{
		{"empty", map[string]any{}, []string{"agent_uuid", "event", "organization_uuid", "platform", "target_url"}},
		{"blank strings", map[string]any{"organizationUuid": " ", "agentUuid": "", "targetUrl": "", "event": "", "platform": ""},
			[]string{"agent_uuid", "event", "organization_uuid", "platform", "target_url"}},
		{"valid", valid(func(map[string]any) {}), nil},
		{"external id of 255", valid(func(in map[string]any) { in["externalId"] = strings.Repeat("é", 255) }), nil},
		{"external id of 256", valid(func(in map[string]any) { in["externalId"] = strings.Repeat("x", 256) }), []string{"external_id"}},
		{"unknown event", valid(func(in map[string]any) { in["event"] = "conversation_closed" }), []string{"event"}},
		{"upper-case event", valid(func(in map[string]any) { in["event"] = "NEW_CONVERSATION" }), []string{"event"}},
		{"other platform", valid(func(in map[string]any) { in["platform"] = "zapier" }), []string{"platform"}},
		{"not a URL", valid(func(in map[string]any) { in["targetUrl"] = "hook.integromat.com/abc" }), []string{"target_url"}},
		{"plain HTTP", valid(func(in map[string]any) { in["targetUrl"] = "http://hook.integromat.com/abc" }), []string{"target_url"}},
		{"credentials", valid(func(in map[string]any) { in["targetUrl"] = "https://u:p@hook.integromat.com/abc" }), []string{"target_url"}},
		{"overlong URL", valid(func(in map[string]any) { in["targetUrl"] = "https://a.example/" + strings.Repeat("a", 2048) }), []string{"target_url"}},
		{"foreign workspace", valid(func(in map[string]any) { in["organizationUuid"] = other.OrganizationID }), []string{"organization_uuid"}},
		{"missing workspace", valid(func(in map[string]any) { in["organizationUuid"] = "org_nope" }), []string{"organization_uuid"}},
		{"agent of another workspace", valid(func(in map[string]any) { in["agentUuid"] = other.AgentID }), []string{"agent_uuid"}},
		{"everything wrong", map[string]any{"organizationUuid": other.OrganizationID, "agentUuid": acc.AgentID,
			"targetUrl": "ftp://x", "event": "x", "platform": "x", "externalId": strings.Repeat("x", 300)},
			[]string{"event", "external_id", "organization_uuid", "platform", "target_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := gql(t, base, acc.Token, subscribeMutation, map[string]any{"input": tt.input})
			if tt.want == nil {
				if len(res.Errors) > 0 {
					t.Fatalf("refused: %+v", res.Errors)
				}
				return
			}
			if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "BAD_USER_INPUT" {
				t.Fatalf("errors %+v, want one BAD_USER_INPUT", res.Errors)
			}
			var got []string
			for f, problems := range res.Errors[0].Extensions.Fields {
				got = append(got, f)
				if len(problems) == 0 || problems[0] == "" {
					t.Errorf("field %s without a problem", f)
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields %v, want %v (%+v)", got, tt.want, res.Errors[0].Extensions.Fields)
			}
		})
	}
}

// TestSubscribeWebhookSSRF: without WEBHOOK_ALLOW_PRIVATE_TARGETS, targets
// on loopback, private, link-local, CGNAT or metadata addresses, plain HTTP,
// and hostnames resolving to loopback are refused at subscribe time.
func TestSubscribeWebhookSSRF(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebhookAllowPrivateTargets = false
	a := newApp(t, cfg)
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	for _, target := range []string{
		"https://127.0.0.1/hook",
		"https://127.1.2.3:8443/hook",
		"https://[::1]/hook",
		"https://10.0.0.1/hook",
		"https://172.16.5.4/hook",
		"https://192.168.1.1/hook",
		"https://169.254.169.254/latest/meta-data/",
		"https://100.64.0.1/hook",
		"https://100.100.100.200/", // Alibaba Cloud metadata, in CGNAT space
		"https://[::ffff:127.0.0.1]/hook",
		"https://[fe80::1]/hook",
		"https://[fd00:ec2::254]/", // AWS IPv6 metadata
		"https://0.0.0.0/hook",
		"http://hook.integromat.com/abc",
		"http://127.0.0.1/hook",
		"https://localhost/hook",
		"https://localhost./hook",
	} {
		t.Run(target, func(t *testing.T) {
			res := gql(t, base, acc.Token, subscribeMutation, map[string]any{"input": map[string]any{
				"organizationUuid": acc.OrganizationID, "agentUuid": acc.AgentID,
				"targetUrl": target, "event": "new_conversation", "platform": "make",
			}})
			if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "BAD_USER_INPUT" ||
				len(res.Errors[0].Extensions.Fields["target_url"]) == 0 {
				t.Fatalf("errors %+v, want BAD_USER_INPUT on target_url", res.Errors)
			}
		})
	}
}

// TestUnsubscribeWebhook: idempotent for the workspace's members, NOT_FOUND
// for everyone else, and the subscription's pending deliveries are
// cancelled.
func TestUnsubscribeWebhook(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a) // no workers: deliveries stay pending
	acc := newAccount(t, a, "Acme Corporation")
	other := newAccount(t, a, "Other Inc")
	subID, _ := subscribe(t, base, acc, "https://127.0.0.1:9/hook", "new_conversation")
	startConversation(t, base, acc, "Hi")
	// Fan the event out by hand, as the worker would.
	ctx := assistloop.NewSystemContext(context.Background())
	var eventIDs []string
	if err := a.DB.NewRaw("SELECT id::text FROM events WHERE agent_id = ?", acc.AgentID).Scan(ctx, &eventIDs); err != nil || len(eventIDs) != 1 {
		t.Fatalf("events %v, %v", eventIDs, err)
	}
	fanOutAll(t, a)

	const unsubscribe = `mutation($id: ID!) { unsubscribeWebhook(input: {id: $id}) { id } }`
	code := func(token, id string) string {
		res := gql(t, base, token, unsubscribe, map[string]any{"id": id})
		if len(res.Errors) > 0 {
			return res.Errors[0].Extensions.Code
		}
		return "OK"
	}
	if got := code(other.Token, subID); got != "NOT_FOUND" {
		t.Errorf("another workspace's user: %s, want NOT_FOUND", got)
	}
	readOnly := newToken(t, a, acc.UserID, assistloop.ScopeReadConversations)
	if got := code(readOnly, subID); got != "FORBIDDEN" {
		t.Errorf("token without manage:webhooks: %s, want FORBIDDEN", got)
	}
	if got := code(acc.Token, subID); got != "OK" {
		t.Errorf("owner: %s", got)
	}
	if got := code(acc.Token, subID); got != "OK" {
		t.Errorf("owner again: %s, want OK (idempotent)", got)
	}
	if got := code(other.Token, subID); got != "NOT_FOUND" {
		t.Errorf("another workspace's user after the unsubscribe: %s, want NOT_FOUND", got)
	}
	if got := code(acc.Token, "whk_doesnotexist000000"); got != "NOT_FOUND" {
		t.Errorf("unknown id: %s, want NOT_FOUND", got)
	}
	res := gql(t, base, acc.Token, `query($id: ID!) { webhookSubscription(id: $id) { id } }`, map[string]any{"id": subID})
	if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "NOT_FOUND" {
		t.Errorf("reading an unsubscribed webhook: %+v, want NOT_FOUND", res.Errors)
	}
	var status string
	if err := a.DB.NewRaw("SELECT status FROM webhook_deliveries WHERE subscription_id = ?", subID).Scan(ctx, &status); err != nil {
		t.Fatal(err)
	}
	if status != "cancelled" {
		t.Errorf("pending delivery is %s after unsubscribe, want cancelled", status)
	}
}

// TestWebhookTenancy: subscriptions, deliveries and redeliveries of another
// workspace do not exist for the caller.
func TestWebhookTenancy(t *testing.T) {
	rc := newReceiver(t, nil)
	a, base := startWebhookApp(t, rc, nil)
	acc := newAccount(t, a, "Acme Corporation")
	other := newAccount(t, a, "Other Inc")
	subID, _ := subscribe(t, base, acc, rc.URL+"/hook", "new_conversation")
	subscribe(t, base, other, rc.URL+"/other", "new_conversation")
	startConversation(t, base, acc, "Hi")
	rc.next(t)
	var log subscriptionLog
	eventually(t, "the delivery to be recorded", func() bool {
		log = readLog(t, base, acc, subID)
		return len(log.Deliveries.Nodes) == 1 && log.Deliveries.Nodes[0].Status == "SUCCEEDED"
	})
	d := log.Deliveries.Nodes[0]

	var list struct {
		WebhookSubscriptions struct{ Nodes []struct{ ID string } }
	}
	mustGQL(t, base, other.Token, `{ webhookSubscriptions { nodes { id } } }`, nil, &list)
	if n := len(list.WebhookSubscriptions.Nodes); n != 1 || list.WebhookSubscriptions.Nodes[0].ID == subID {
		t.Errorf("other user lists %+v, want only their own subscription", list.WebhookSubscriptions.Nodes)
	}
	for name, q := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"subscription": {`query($id: ID!) { webhookSubscription(id: $id) { id } }`, map[string]any{"id": subID}},
		"delivery":     {`query($id: ID!) { webhookDelivery(id: $id) { id } }`, map[string]any{"id": d.ID}},
		"list by org":  {`query($o: ID!) { webhookSubscriptions(organizationUuid: $o) { nodes { id } } }`, map[string]any{"o": acc.OrganizationID}},
		"redeliver":    {`mutation($s: ID!, $e: ID!) { redeliverEvent(input: {subscriptionId: $s, eventId: $e}) { delivery { id } } }`, map[string]any{"s": subID, "e": d.Event.ID}},
		"unsubscribe":  {`mutation($id: ID!) { unsubscribeWebhook(input: {id: $id}) { id } }`, map[string]any{"id": subID}},
		"malformed id": {`query($id: ID!) { webhookDelivery(id: $id) { id } }`, map[string]any{"id": "nope"}},
	} {
		res := gql(t, base, other.Token, q.query, q.vars)
		if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "NOT_FOUND" {
			t.Errorf("%s: %+v, want NOT_FOUND", name, res.Errors)
		}
	}

	// The owner can redeliver: a new attempt, with the same webhook-id.
	var redelivered struct {
		RedeliverEvent struct {
			Delivery struct {
				ID, Status  string
				MaxAttempts int
			}
		}
	}
	mustGQL(t, base, acc.Token, `mutation($s: ID!, $e: ID!) { redeliverEvent(input: {subscriptionId: $s, eventId: $e}) { delivery { id status maxAttempts } } }`,
		map[string]any{"s": subID, "e": d.Event.ID}, &redelivered)
	if r := redelivered.RedeliverEvent.Delivery; r.ID != d.ID || r.Status != "PENDING" || r.MaxAttempts != 5 {
		t.Errorf("redelivered %+v, want the same delivery PENDING with max 5 attempts", r)
	}
	again := rc.next(t)
	if again.Header.Get("webhook-id") != d.Event.ID || again.Path != "/hook" {
		t.Errorf("redelivery to %s with webhook-id %s, want /hook with %s", again.Path, again.Header.Get("webhook-id"), d.Event.ID)
	}
	eventually(t, "the redelivery to be recorded", func() bool {
		log = readLog(t, base, acc, subID)
		return log.Deliveries.Nodes[0].Status == "SUCCEEDED" && len(log.Deliveries.Nodes[0].Attempts) == 2
	})
}
