package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// loaders batch the relation fields of one response: every conversation's
// agent on a page is fetched with one query, not one per conversation.
type loaders struct {
	agents        *dataloadgen.Loader[string, *assistloop.Agent]
	organizations *dataloadgen.Loader[string, *assistloop.Organization]
	chatUsers     *dataloadgen.Loader[string, *assistloop.ChatUser]
	users         *dataloadgen.Loader[string, *assistloop.User]
	conversations *dataloadgen.Loader[uuid.UUID, *assistloop.Conversation]
	attachments   *dataloadgen.Loader[uuid.UUID, []*assistloop.Attachment]
	events        *dataloadgen.Loader[uuid.UUID, *assistloop.Event]
	webhooks      *dataloadgen.Loader[string, *assistloop.WebhookSubscription]
	attempts      *dataloadgen.Loader[uuid.UUID, []*assistloop.WebhookDeliveryAttempt]
	messages      *dataloadgen.Loader[uuid.UUID, *assistloop.Message]
}

// loaderWait is how long a loader collects keys before it queries. gqlgen
// resolves the fields of a list's items concurrently, so the keys of one
// page arrive within microseconds of each other.
const loaderWait = 500 * time.Microsecond

func newLoaders(r *Resolver) *loaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(loaderWait), dataloadgen.WithBatchCapacity(500)}
	return &loaders{
		agents: dataloadgen.NewLoader(byKey(r.Services.Agents.AgentsByIDs,
			func(a *assistloop.Agent) string { return a.ID }, "Agent"), opts...),
		organizations: dataloadgen.NewLoader(byKey(r.Services.Organizations.OrganizationsByIDs,
			func(o *assistloop.Organization) string { return o.ID }, "Organization"), opts...),
		chatUsers: dataloadgen.NewLoader(byKey(r.Services.ChatUsers.ChatUsersByIDs,
			func(c *assistloop.ChatUser) string { return c.ID }, "Chat user"), opts...),
		users: dataloadgen.NewLoader(byKey(r.Services.Users.UsersByIDs,
			func(u *assistloop.User) string { return u.ID }, "User"), opts...),
		conversations: dataloadgen.NewLoader(byKey(r.Services.Conversations.ConversationsByIDs,
			func(c *assistloop.Conversation) uuid.UUID { return c.ID }, "Conversation"), opts...),
		attachments: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([][]*assistloop.Attachment, []error) {
			as, err := r.Services.Messages.AttachmentsByMessageIDs(ctx, ids)
			if err != nil {
				return nil, []error{err}
			}
			byMessage := make(map[uuid.UUID][]*assistloop.Attachment, len(ids))
			for _, a := range as {
				byMessage[*a.MessageID] = append(byMessage[*a.MessageID], a)
			}
			out := make([][]*assistloop.Attachment, len(ids))
			for i, id := range ids {
				out[i] = byMessage[id]
				if out[i] == nil {
					out[i] = []*assistloop.Attachment{}
				}
			}
			return out, nil
		}, opts...),
		messages: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([]*assistloop.Message, []error) {
			return byKey(r.Services.ConversationsAPI.MessagesByIDs, func(m *assistloop.Message) uuid.UUID { return m.ID }, "Message")(ctx, ids)
		}, opts...),
		events: dataloadgen.NewLoader(byKey(r.Services.Events.EventsByIDs,
			func(e *assistloop.Event) uuid.UUID { return e.ID }, "Event"), opts...),
		webhooks: dataloadgen.NewLoader(byKey(r.Services.Webhooks.WebhookSubscriptionsByIDs,
			func(w *assistloop.WebhookSubscription) string { return w.ID }, "Webhook"), opts...),
		attempts: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([][]*assistloop.WebhookDeliveryAttempt, []error) {
			as, err := r.Services.Webhooks.AttemptsByDeliveryIDs(ctx, ids)
			if err != nil {
				return nil, []error{err}
			}
			byDelivery := make(map[uuid.UUID][]*assistloop.WebhookDeliveryAttempt, len(ids))
			for _, a := range as {
				byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID], a)
			}
			out := make([][]*assistloop.WebhookDeliveryAttempt, len(ids))
			for i, id := range ids {
				out[i] = byDelivery[id]
				if out[i] == nil {
					out[i] = []*assistloop.WebhookDeliveryAttempt{}
				}
			}
			return out, nil
		}, opts...),
	}
}

// byKey adapts a service's batch read (which omits missing or foreign rows)
// to a loader's fetch, answering NOT_FOUND for each omitted key.
func byKey[K comparable, V any](fetch func(context.Context, []K) ([]V, error), key func(V) K, kind string) func(context.Context, []K) ([]V, []error) {
	return func(ctx context.Context, keys []K) ([]V, []error) {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return nil, []error{err}
		}
		found := make(map[K]V, len(rows))
		for _, v := range rows {
			found[key(v)] = v
		}
		out := make([]V, len(keys))
		errs := make([]error, len(keys))
		for i, k := range keys {
			v, ok := found[k]
			if !ok {
				errs[i] = assistloop.NotFound(kind)
			}
			out[i] = v
		}
		return out, errs
	}
}

type loadersKey struct{}

func loadersFrom(ctx context.Context) *loaders {
	return ctx.Value(loadersKey{}).(*loaders)
}

// loaderExtension gives every operation, and every response of a
// subscription, fresh loaders: nothing cached outlives the response it was
// read for.
type loaderExtension struct{ r *Resolver }

var (
	_ graphql.HandlerExtension     = loaderExtension{}
	_ graphql.OperationInterceptor = loaderExtension{}
	_ graphql.ResponseInterceptor  = loaderExtension{}
)

func (loaderExtension) ExtensionName() string                   { return "Loaders" }
func (loaderExtension) Validate(graphql.ExecutableSchema) error { return nil }
func (e loaderExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, loadersKey{}, newLoaders(e.r)))
}
func (e loaderExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return next(context.WithValue(ctx, loadersKey{}, newLoaders(e.r)))
}
