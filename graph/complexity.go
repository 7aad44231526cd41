package graph

import (
	"github.com/assistloop/assistloop/graph/model"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// DefaultComplexityLimit admits a page of 100 messages with every field and
// their attachments (about 2,500) and refuses nested pages of pages.
const DefaultComplexityLimit = 5000

// setComplexity prices every list field at its page size times the cost of
// one item, so nesting lists multiplies the cost as it multiplies the work.
func setComplexity(c *ComplexityRoot) {
	page := func(child int, first *int) int {
		n := assistloop.DefaultPageSize
		if first != nil && *first > 0 {
			n = *first
		}
		return 1 + child*n
	}
	c.Query.Organizations = func(child int, first *int, _ *string, _ *int) int { return page(child, first) }
	c.Query.Conversations = func(child int, _ string, _ *model.ConversationFilter, first *int, _ *string, _ *int) int {
		return page(child, first)
	}
	c.Query.Messages = func(child int, _ string, _ *model.MessageFilter, first *int, _ *string, _ *int) int {
		return page(child, first)
	}
	c.Query.RecentEventSamples = func(child int, _ string, _ *assistloop.EventType, limit *int) int { return page(child, limit) }
	c.Organization.Agents = func(child int, first *int, _ *string, _ *int) int { return page(child, first) }
	c.Agent.Conversations = func(child int, _ *model.ConversationFilter, first *int, _ *string, _ *int) int {
		return page(child, first)
	}
	c.Conversation.Messages = func(child int, _ *model.MessageFilter, first *int, _ *string, _ *int) int {
		return page(child, first)
	}
	c.Query.WebhookSubscriptions = func(child int, _ *string, _ *string, first *int, _ *string, _ *int) int {
		return page(child, first)
	}
	c.WebhookSubscription.Deliveries = func(child int, _ *assistloop.DeliveryStatus, first *int, _ *string, _ *int) int {
		return page(child, first)
	}
	c.Query.SearchConversations = func(child int, _ model.ConversationSearchInput, first *int, _ *string) int {
		return page(child, first)
	}
	// A transcript is long; price it like a full page.
	c.Query.MessageTranscription = func(child int, _ string, _ *string) int { return 1 + child*assistloop.MaxPageSize }
	// A round has at most MaxDeliveryAttempts attempts; redeliveries add
	// rounds, so price a few.
	c.WebhookDelivery.Attempts = func(child int) int { return 1 + child*2*assistloop.MaxDeliveryAttempts }
}
