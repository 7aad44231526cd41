// Package demo creates the demo workspace: a user, a workspace with two
// agents and a few dozen conversations in every mode and state, the OAuth
// client Make connects with, and an access token with every scope. Loading
// twice reuses what exists and issues a fresh token and client secret.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// The demo's fixed identity.
const (
	Email            = "demo@assistloop.example"
	Password         = "assistloop-demo"
	UserName         = "Demo Owner"
	OrganizationName = "Acme Corporation"
	ClientID         = "cli_demo_make"
	ClientName       = "Make (demo)"
	TokenTTL         = 30 * 24 * time.Hour
)

// RedirectURIs are Make's OAuth callbacks.
var RedirectURIs = []string{"https://www.integromat.com/oauth/cb/app", "https://www.make.com/oauth/cb/app"}

// Services are what the demo loader needs.
type Services struct {
	Users         assistloop.UserService
	Organizations assistloop.OrganizationService
	Agents        assistloop.AgentService
	Conversations assistloop.ConversationService
	Tokens        assistloop.TokenService
	Clients       assistloop.ClientService
}

// Result is what `assistloop demo --json` prints.
type Result struct {
	User struct {
		UUID     string `json:"uuid"`
		Email    string `json:"email"`
		Password string `json:"password"`
	} `json:"user"`
	OrganizationUUID string   `json:"organization_uuid"`
	AgentUUIDs       []string `json:"agent_uuids"`
	OAuthClient      struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
	} `json:"oauth_client"`
	AccessToken string `json:"access_token"`
	// Created is false when the workspace already existed.
	Created bool `json:"-"`
}

// Load creates the demo workspace unless it exists, then issues a fresh
// access token and OAuth client secret.
func Load(ctx context.Context, s Services) (*Result, error) {
	res := &Result{}
	user, err := s.Users.AuthenticateUser(ctx, Email, Password)
	switch assistloop.ErrorCode(err) {
	case "":
	case assistloop.EUNAUTHORIZED:
		res.Created = true
		if user, err = create(ctx, s); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	as := assistloop.WithPrincipal(ctx, &assistloop.Principal{UserID: user.ID, Scopes: assistloop.AllScopes})
	orgs, err := s.Organizations.ListOrganizations(as, assistloop.Page{First: 100})
	if err != nil {
		return nil, err
	}
	for _, o := range orgs.Organizations {
		if o.Name == OrganizationName {
			res.OrganizationUUID = o.ID
		}
	}
	if res.OrganizationUUID == "" {
		return nil, fmt.Errorf("demo: the demo user has no %q workspace", OrganizationName)
	}
	agents, err := s.Agents.ListAgents(as, res.OrganizationUUID, assistloop.Page{First: 100})
	if err != nil {
		return nil, err
	}
	for i := len(agents.Agents) - 1; i >= 0; i-- { // oldest first
		res.AgentUUIDs = append(res.AgentUUIDs, agents.Agents[i].ID)
	}

	client, secret, err := s.Clients.CreateClient(ctx, assistloop.CreateClientInput{ID: ClientID, Name: ClientName, RedirectURIs: RedirectURIs})
	if err != nil {
		return nil, err
	}
	res.OAuthClient.ClientID, res.OAuthClient.ClientSecret, res.OAuthClient.RedirectURIs = client.ID, secret, client.RedirectURIs

	token, _, err := s.Tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{
		UserID: user.ID, Scopes: assistloop.AllScopes, TTL: TokenTTL,
	})
	if err != nil {
		return nil, err
	}
	res.AccessToken = token
	res.User.UUID, res.User.Email, res.User.Password = user.ID, Email, Password
	return res, nil
}

func create(ctx context.Context, s Services) (*assistloop.User, error) {
	user, org, support, err := s.Users.CreateUser(ctx, assistloop.CreateUserInput{
		Email: Email, Password: Password, Name: UserName, OrganizationName: OrganizationName, AgentName: "Customer Support Agent",
	})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	as := assistloop.WithPrincipal(ctx, &assistloop.Principal{UserID: user.ID, Scopes: assistloop.AllScopes})
	sales, err := s.Agents.CreateAgent(as, org.ID, "Sales Assistant")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	for i := 0; i < 36; i++ {
		agent := support
		if i%3 == 2 {
			agent = sales
		}
		if err := play(as, s.Conversations, agent.ID, scripts[i%len(scripts)], i); err != nil {
			return nil, fmt.Errorf("demo: conversation %d: %w", i, err)
		}
	}
	return user, nil
}

// A script is one conversation: the customer, the exchange, and how it ends.
type script struct {
	name, email, country string
	turns                []string // guest, AI, guest, AI, …
	handoff              string   // non-empty: the AI asks for a human with this reason
	humanReply           string   // a human answers after the handoff
	close                bool
}

func play(ctx context.Context, cs assistloop.ConversationService, agentID string, sc script, n int) error {
	name, email, country := sc.name, sc.email, sc.country
	in := assistloop.StartConversationInput{AgentID: agentID, Content: sc.turns[0],
		ChatUser: &assistloop.ChatUserInput{CountryCode: &country}}
	if n%6 != 5 { // every sixth customer stays anonymous
		in.ChatUser.Name, in.ChatUser.Email = &name, &email
		ext := fmt.Sprintf("crm_%04d", 1000+n)
		in.ChatUser.ExternalID = &ext
	}
	conv, _, err := cs.StartConversation(ctx, in)
	if err != nil {
		return err
	}
	for i, turn := range sc.turns[1:] {
		if i%2 == 0 {
			_, err = cs.SendAgentMessage(ctx, conv.ID, turn)
		} else {
			_, err = cs.SendGuestMessage(ctx, conv.ID, turn)
		}
		if err != nil {
			return err
		}
	}
	if sc.handoff != "" {
		if _, err := cs.RequestHumanHandoff(ctx, conv.ID, &sc.handoff); err != nil {
			return err
		}
		if sc.humanReply != "" && n%2 == 0 {
			if _, err := cs.ReplyToConversation(ctx, conv.ID, sc.humanReply); err != nil {
				return err
			}
		}
	}
	if sc.close || n%5 == 4 {
		if _, err := cs.CloseConversation(ctx, conv.ID); err != nil {
			return err
		}
	}
	return nil
}

var scripts = []script{
	{name: "Jane Smith", email: "jane.smith@example.com", country: "US",
		turns: []string{"Hi, I need help with my order",
			"I'd be happy to help you with your order. Could you provide your order number?",
			"It's #48213, it was supposed to arrive yesterday.",
			"Thanks! Order #48213 left our warehouse on Monday and is out for delivery today."}},
	{name: "Lukas Becker", email: "lukas.becker@example.de", country: "DE",
		turns: []string{"Can I change the shipping address of my order?",
			"Yes, as long as it has not shipped. What is the order number?",
			"#48877, and I need to speak with a human agent about a customs form."},
		handoff: "Customs paperwork is outside what I can handle.", humanReply: "Hi Lukas, this is Maria from support. I'll prepare the customs form for you today."},
	{name: "Amélie Laurent", email: "amelie@example.fr", country: "FR",
		turns: []string{"Do you ship to Martinique?",
			"We do! Delivery to Martinique takes 6 to 9 business days."}, close: true},
	{name: "Kenji Watanabe", email: "kenji.w@example.jp", country: "JP",
		turns: []string{"My invoice shows the wrong company name.",
			"I'm sorry about that. I can't edit invoices myself, so let me get a colleague."},
		handoff: "Invoice corrections need a human.", humanReply: "Hello Kenji, I've reissued the invoice with the correct company name."},
	{name: "Priya Sharma", email: "priya.sharma@example.in", country: "IN",
		turns: []string{"What's the difference between the Pro and Team plans?",
			"Team adds shared inboxes, roles and SSO on top of everything in Pro.",
			"Is SSO available on a monthly plan?",
			"Yes, SSO is included in Team on both monthly and yearly billing."}},
	{name: "Carlos Mendoza", email: "carlos.mendoza@example.mx", country: "MX",
		turns: []string{"I was charged twice this month.",
			"I understand how frustrating that is. Refunds need a person from billing, so I'm handing you over."},
		handoff: "Duplicate charge: refund required.", humanReply: "Hi Carlos, I've refunded the duplicate charge; it will show within 5 business days."},
	{name: "Olivia Brown", email: "olivia.brown@example.co.uk", country: "GB",
		turns: []string{"How do I reset my password?",
			"Click \"Forgot password\" on the sign-in page and follow the link we email you.",
			"Got it, thanks!"}, close: true},
	{name: "Noah Wilson", email: "noah.wilson@example.ca", country: "CA",
		turns: []string{"Is there an API for exporting conversations?",
			"Yes: the REST API lists conversations and messages, and webhooks notify you of new ones."}},
	{name: "Sofia Rossi", email: "sofia.rossi@example.it", country: "IT",
		turns: []string{"I'd like to cancel my subscription.",
			"I'm sorry to see you go. Could you tell me why you'd like to cancel?",
			"Too expensive for our small team. Can I talk to someone about a discount?"},
		handoff: "Retention offer requested."},
	{name: "Ahmed Hassan", email: "ahmed.hassan@example.eg", country: "EG",
		turns: []string{"The widget doesn't load on my website.",
			"Let's check: is the snippet placed just before the closing </body> tag?",
			"Yes, it is. Still nothing."},
		handoff: "Installation issue needs an engineer.", humanReply: "Hi Ahmed, your site's CSP blocks our script; I've emailed you the line to add."},
	{name: "Emma Johansson", email: "emma.j@example.se", country: "SE",
		turns: []string{"Do you offer a nonprofit discount?",
			"We do: registered nonprofits get 50% off any plan."}},
	{name: "Lucas Silva", email: "lucas.silva@example.com.br", country: "BR",
		turns: []string{"Can I get a demo for my team of 40?",
			"Absolutely. I can book a call with our sales team; what time zone are you in?",
			"São Paulo, afternoons work best."}, handoff: "Qualified lead: demo for 40 seats.", close: true},
}
