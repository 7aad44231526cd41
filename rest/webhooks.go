package rest

import (
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// subscribeWebhookRoute: POST /webhooks/subscribe, Make's instant-trigger
// subscription: {"data":{"id":"whk_…","secret":"whsec_…"},"message":…}.
// The secret is shown only here. Every field's rules are the domain's;
// the adapter only checks that the fields present are strings.
var subscribeWebhookRoute = &route{
	method:  http.MethodPost,
	pattern: "/webhooks/subscribe",
	scope:   assistloop.ScopeManageWebhooks,
	document: `mutation RestSubscribeWebhook($input: SubscribeWebhookInput!) {
  subscribeWebhook(input: $input) { secret subscription { id } }
}`,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		input := map[string]any{}
		for rest, field := range map[string]string{
			"organization_uuid": "organizationUuid",
			"agent_uuid":        "agentUuid",
			"target_url":        "targetUrl",
			"event":             "event",
			"platform":          "platform",
			"external_id":       "externalId",
		} {
			if v := body.optionalString(invalid, rest); v != nil {
				input[field] = *v
			}
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		var out struct {
			SubscribeWebhook struct {
				Secret       string
				Subscription struct{ ID string }
			}
		}
		if err := x.runInto(map[string]any{"input": input}, &out); err != nil {
			return nil, err
		}
		return webhookResponse{
			Data:    &webhookData{ID: out.SubscribeWebhook.Subscription.ID, Secret: out.SubscribeWebhook.Secret},
			Message: "Webhook subscribed successfully",
		}, nil
	},
}

// unsubscribeWebhookRoute: DELETE /webhooks/unsubscribe/{uuid}; repeating
// it succeeds for the subscription's workspace, 404 for anyone else.
var unsubscribeWebhookRoute = &route{
	method:  http.MethodDelete,
	pattern: "/webhooks/unsubscribe/{uuid}",
	scope:   assistloop.ScopeManageWebhooks,
	document: `mutation RestUnsubscribeWebhook($id: ID!) {
  unsubscribeWebhook(input: {id: $id}) { id }
}`,
	serve: func(x *exchange) (any, error) {
		if _, err := x.run(map[string]any{"id": x.pathParam("uuid")}); err != nil {
			return nil, err
		}
		return webhookResponse{Message: "Webhook unsubscribed successfully"}, nil
	},
}

type webhookResponse struct {
	Data    *webhookData `json:"data"`
	Message string       `json:"message"`
}

type webhookData struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}
