// Package graph is the GraphQL API: the schema (*.graphqls), its resolvers
// and the HTTP/WebSocket handler and in-process executor that serve it.
// Resolvers are thin: they translate arguments, make one service call and
// shape the result; rules live in the domain services.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"log/slog"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Services are the domain services the resolvers call.
type Services struct {
	Users         assistloop.UserService
	Organizations assistloop.OrganizationService
	Agents        assistloop.AgentService
	ChatUsers     assistloop.ChatUserService
	Conversations assistloop.ConversationService
	Messages      assistloop.MessageService
	Events        assistloop.EventService
	Webhooks      assistloop.WebhookService
	// ConversationsAPI and Attachments back the Conversations API.
	ConversationsAPI assistloop.ConversationsAPIService
	Attachments      assistloop.AttachmentService
}

// Resolver is the root resolver: the dependencies every resolver uses.
type Resolver struct {
	Services Services

	// PublicURL is the service's external base URL, for links such as
	// attachment URLs.
	PublicURL string
	Log       *slog.Logger
}
