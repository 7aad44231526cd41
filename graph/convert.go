package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/assistloop/assistloop/graph/model"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// Argument helpers. A malformed id names nothing, so it is NOT_FOUND, like
// an id of another workspace.

func conversationID(s string) (uuid.UUID, error) {
	id, ok := assistloop.ParseUUID(s)
	if !ok {
		return uuid.Nil, assistloop.NotFound("Conversation")
	}
	return id, nil
}

func messageID(s string) (uuid.UUID, error) {
	id, ok := assistloop.ParseMessageID(s)
	if !ok {
		return uuid.Nil, assistloop.NotFound("Message")
	}
	return id, nil
}

func eventID(s *string) (*uuid.UUID, error) {
	if s == nil {
		return nil, nil
	}
	id, ok := assistloop.ParseUUID(*s)
	if !ok {
		return nil, assistloop.NotFound("Event")
	}
	return &id, nil
}

func pageArgs(first *int, after *string, offset *int) assistloop.Page {
	var p assistloop.Page
	if first != nil {
		p.First = *first
		if p.First == 0 {
			p.First = -1 // an explicit 0 is out of range, not "the default"
		}
	}
	if after != nil {
		p.After = *after
	}
	if offset != nil {
		p.Offset = *offset
	}
	return p
}

func pageInfo(info assistloop.PageInfo) *model.PageInfo {
	out := &model.PageInfo{HasNextPage: info.HasNextPage, HasPreviousPage: info.HasPreviousPage}
	if info.StartCursor != "" {
		out.StartCursor = &info.StartCursor
		out.EndCursor = &info.EndCursor
	}
	return out
}

func conversationFilter(agentID string, f *model.ConversationFilter) assistloop.ConversationFilter {
	out := assistloop.ConversationFilter{AgentID: agentID}
	if f != nil {
		out.Status, out.ResponseMode, out.CreatedFrom, out.CreatedTo = f.Status, f.ResponseMode, f.CreatedFrom, f.CreatedTo
	}
	return out
}

func messageFilter(id uuid.UUID, f *model.MessageFilter) assistloop.MessageFilter {
	out := assistloop.MessageFilter{ConversationID: id}
	if f != nil {
		out.CreatedFrom, out.CreatedTo, out.Types = f.CreatedFrom, f.CreatedTo, f.Types
	}
	return out
}

// connection fields that name an item's sub-selection.
var itemFields = []string{"nodes", "edges"}

// selected reports whether the connection being resolved selects field on
// its items (through nodes or edges.node).
func selected(ctx context.Context, field string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if !slices.Contains(itemFields, f.Name) {
			continue
		}
		for _, sub := range graphql.CollectFields(graphql.GetOperationContext(ctx), f.Selections, nil) {
			if sub.Name == field {
				return true
			}
			if sub.Name == "node" {
				for _, leaf := range graphql.CollectFields(graphql.GetOperationContext(ctx), sub.Selections, nil) {
					if leaf.Name == field {
						return true
					}
				}
			}
		}
	}
	return false
}

// prefetch loads keys through l as one batch, so the items' field resolvers
// that follow find them cached instead of each waiting for a batch.
func prefetch[K comparable, V any](ctx context.Context, l interface {
	LoadAll(context.Context, []K) ([]V, error)
}, keys []K) {
	seen := make(map[K]struct{}, len(keys))
	uniq := keys[:0:0]
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			uniq = append(uniq, k)
		}
	}
	if len(uniq) > 0 {
		_, _ = l.LoadAll(ctx, uniq) // errors resurface per item
	}
}

func conversationConnection(ctx context.Context, page *assistloop.ConversationPage) *model.ConversationConnection {
	l := loadersFrom(ctx)
	if selected(ctx, "chatUser") {
		var ids []string
		for _, c := range page.Conversations {
			if c.ChatUserID != nil {
				ids = append(ids, *c.ChatUserID)
			}
		}
		prefetch(ctx, l.chatUsers, ids)
	}
	out := &model.ConversationConnection{Nodes: page.Conversations, PageInfo: pageInfo(page.PageInfo),
		Edges: make([]*model.ConversationEdge, len(page.Conversations))}
	for i, c := range page.Conversations {
		out.Edges[i] = &model.ConversationEdge{Cursor: page.Cursors[i], Node: c}
	}
	return out
}

func messageConnection(ctx context.Context, page *assistloop.MessagePage) *model.MessageConnection {
	l := loadersFrom(ctx)
	if selected(ctx, "attachments") {
		ids := make([]uuid.UUID, len(page.Messages))
		for i, m := range page.Messages {
			ids[i] = m.ID
		}
		prefetch(ctx, l.attachments, ids)
	}
	out := &model.MessageConnection{Nodes: page.Messages, PageInfo: pageInfo(page.PageInfo),
		Edges: make([]*model.MessageEdge, len(page.Messages))}
	for i, m := range page.Messages {
		out.Edges[i] = &model.MessageEdge{Cursor: page.Cursors[i], Node: m}
	}
	return out
}

func organizationConnection(page *assistloop.OrganizationPage) *model.OrganizationConnection {
	out := &model.OrganizationConnection{Nodes: page.Organizations, PageInfo: pageInfo(page.PageInfo),
		Edges: make([]*model.OrganizationEdge, len(page.Organizations))}
	for i, o := range page.Organizations {
		out.Edges[i] = &model.OrganizationEdge{Cursor: page.Cursors[i], Node: o}
	}
	return out
}

func agentConnection(page *assistloop.AgentPage) *model.AgentConnection {
	out := &model.AgentConnection{Nodes: page.Agents, PageInfo: pageInfo(page.PageInfo),
		Edges: make([]*model.AgentEdge, len(page.Agents))}
	for i, a := range page.Agents {
		out.Edges[i] = &model.AgentEdge{Cursor: page.Cursors[i], Node: a}
	}
	return out
}

func webhookSubscriptionConnection(page *assistloop.WebhookSubscriptionPage) *model.WebhookSubscriptionConnection {
	out := &model.WebhookSubscriptionConnection{Nodes: page.Subscriptions, PageInfo: pageInfo(page.PageInfo),
		Edges: make([]*model.WebhookSubscriptionEdge, len(page.Subscriptions))}
	for i, w := range page.Subscriptions {
		out.Edges[i] = &model.WebhookSubscriptionEdge{Cursor: page.Cursors[i], Node: w}
	}
	return out
}

func webhookDeliveryConnection(ctx context.Context, page *assistloop.WebhookDeliveryPage) *model.WebhookDeliveryConnection {
	l := loadersFrom(ctx)
	if selected(ctx, "attempts") {
		ids := make([]uuid.UUID, len(page.Deliveries))
		for i, d := range page.Deliveries {
			ids[i] = d.ID
		}
		prefetch(ctx, l.attempts, ids)
	}
	out := &model.WebhookDeliveryConnection{Nodes: page.Deliveries, PageInfo: pageInfo(page.PageInfo),
		Edges: make([]*model.WebhookDeliveryEdge, len(page.Deliveries))}
	for i, d := range page.Deliveries {
		out.Edges[i] = &model.WebhookDeliveryEdge{Cursor: page.Cursors[i], Node: d}
	}
	return out
}
