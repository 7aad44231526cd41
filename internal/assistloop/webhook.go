package assistloop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Webhook limits and fixed rules (contract §6).
const (
	// MaxDeliveryAttempts is one attempt plus up to three retries. A
	// redelivery grants another round of as many.
	MaxDeliveryAttempts = 4
	MaxTargetURLLength  = 2048
	MaxExternalIDLength = 255
	// PlatformMake is the only platform the reference knows.
	PlatformMake = "make"
	// SecretPrefix starts every signing secret.
	SecretPrefix = "whsec_"
)

// WebhookStatus is the state of a subscription.
type WebhookStatus string

const (
	WebhookActive WebhookStatus = "active"
	// WebhookDisabled: the target answered 410 Gone; nothing more is sent.
	WebhookDisabled WebhookStatus = "disabled"
	// WebhookUnsubscribed: deleted by its owner. Kept (hidden) so that a
	// repeated unsubscribe succeeds.
	WebhookUnsubscribed WebhookStatus = "unsubscribed"
)

// DeliveryStatus is the state of one event's delivery to one subscription.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"   // due now or scheduled for a retry
	DeliverySucceeded DeliveryStatus = "succeeded" // a 2xx arrived
	DeliveryFailed    DeliveryStatus = "failed"    // every attempt failed, or 410 Gone
	DeliveryCancelled DeliveryStatus = "cancelled" // the subscription went away first
)

func (s DeliveryStatus) Valid() bool {
	switch s {
	case DeliveryPending, DeliverySucceeded, DeliveryFailed, DeliveryCancelled:
		return true
	}
	return false
}

// WebhookSecret is a subscription's signing secret. It prints as a
// placeholder, so it cannot leak through logs or formatted errors; Reveal
// returns the value.
type WebhookSecret string

// NewWebhookSecret returns "whsec_" and the standard base64 of 32 random
// bytes, the form Standard Webhooks verifiers decode.
func NewWebhookSecret() WebhookSecret {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic("assistloop: crypto/rand failed: " + err.Error())
	}
	return WebhookSecret(SecretPrefix + base64.StdEncoding.EncodeToString(key[:]))
}

// Reveal returns the secret's value.
func (s WebhookSecret) Reveal() string { return string(s) }

// Key returns the HMAC key the secret encodes.
func (s WebhookSecret) Key() ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(string(s), SecretPrefix))
}

func (s WebhookSecret) String() string               { return SecretPrefix + "[redacted]" }
func (s WebhookSecret) GoString() string             { return s.String() }
func (s WebhookSecret) LogValue() slog.Value         { return slog.StringValue(s.String()) }
func (s WebhookSecret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// WebhookSubscription sends the events of one type of one agent to a URL.
type WebhookSubscription struct {
	ID             string        `bun:"id,pk"` // whk_…
	OrganizationID string        `bun:"organization_id"`
	AgentID        string        `bun:"agent_id"`
	UserID         *string       `bun:"user_id"` // who subscribed; nil once deleted
	TargetURL      string        `bun:"target_url"`
	Event          EventType     `bun:"event"`
	Platform       string        `bun:"platform"`
	ExternalID     *string       `bun:"external_id"`
	Secret         WebhookSecret `bun:"secret" json:"-"`
	Status         WebhookStatus `bun:"status"`
	DisabledAt     *time.Time    `bun:"disabled_at"`
	DisabledReason *string       `bun:"disabled_reason"`
	UnsubscribedAt *time.Time    `bun:"unsubscribed_at"`
	CreatedAt      time.Time     `bun:"created_at"`
	UpdatedAt      time.Time     `bun:"updated_at"`
}

// WebhookDelivery is one event's delivery to one subscription.
type WebhookDelivery struct {
	ID             uuid.UUID      `bun:"id,pk,type:uuid"`
	EventID        uuid.UUID      `bun:"event_id,type:uuid"`
	SubscriptionID string         `bun:"subscription_id"`
	OrganizationID string         `bun:"organization_id"`
	Status         DeliveryStatus `bun:"status"`
	Attempts       int            `bun:"attempts"`
	MaxAttempts    int            `bun:"max_attempts"`
	NextAttemptAt  *time.Time     `bun:"next_attempt_at"`
	LastAttemptAt  *time.Time     `bun:"last_attempt_at"`
	LastStatusCode *int           `bun:"last_status_code"`
	LastError      *string        `bun:"last_error"`
	CreatedAt      time.Time      `bun:"created_at"`
	UpdatedAt      time.Time      `bun:"updated_at"`
	CompletedAt    *time.Time     `bun:"completed_at"`
}

// WebhookDeliveryAttempt records one HTTP attempt of a delivery.
type WebhookDeliveryAttempt struct {
	ID            int64      `bun:"id,pk,autoincrement"`
	DeliveryID    uuid.UUID  `bun:"delivery_id,type:uuid"`
	Number        int        `bun:"number"`
	AttemptedAt   time.Time  `bun:"attempted_at"`
	LatencyMs     int        `bun:"latency_ms"`
	StatusCode    *int       `bun:"status_code"`
	Error         *string    `bun:"error"`
	NextAttemptAt *time.Time `bun:"next_attempt_at"`
}

// SubscribeWebhookInput is a subscription request, field for field the
// REST body of POST /webhooks/subscribe. Every field is optional here so
// that a missing one is reported like any other problem, under its REST
// name.
type SubscribeWebhookInput struct {
	OrganizationID *string
	AgentID        *string
	TargetURL      *string
	Event          *string
	Platform       *string
	ExternalID     *string
}

// Validate checks what can be checked without the database or the network
// and returns the parsed target URL (nil when it is invalid). The problems
// are collected in v under the REST parameter names.
func (in *SubscribeWebhookInput) Validate(v *Error) *url.URL {
	required := func(field, label string, s *string) bool {
		if s == nil || isBlank(*s) {
			v.Add(field, "The "+label+" field is required.")
			return false
		}
		if !utf8.ValidString(*s) {
			v.Add(field, "The "+label+" must be valid UTF-8 text.")
			return false
		}
		return true
	}
	if required("organization_uuid", "organization uuid", in.OrganizationID) && len(*in.OrganizationID) > MaxNameLength {
		v.Add("organization_uuid", "The selected organization uuid is invalid.")
	}
	if required("agent_uuid", "agent uuid", in.AgentID) && len(*in.AgentID) > MaxNameLength {
		v.Add("agent_uuid", "The selected agent uuid is invalid.")
	}
	var target *url.URL
	if required("target_url", "target url", in.TargetURL) {
		target = ParseTargetURL(v, *in.TargetURL)
	}
	if required("event", "event", in.Event) && !EventType(*in.Event).Valid() {
		v.Add("event", "The selected event is invalid. It must be one of: new_conversation, human_handoff_required.")
	}
	if required("platform", "platform", in.Platform) && *in.Platform != PlatformMake {
		v.Add("platform", "The selected platform is invalid. It must be make.")
	}
	if e := in.ExternalID; e != nil {
		if !utf8.ValidString(*e) {
			v.Add("external_id", "The external id must be valid UTF-8 text.")
		} else if utf8.RuneCountInString(*e) > MaxExternalIDLength {
			v.Add("external_id", "The external id may not be greater than 255 characters.")
		}
	}
	return target
}

// ParseTargetURL checks that raw is an absolute HTTPS URL with a host and
// without credentials, adding the problem to v under target_url.
func ParseTargetURL(v *Error, raw string) *url.URL {
	const invalid = "The target url must be a valid HTTPS URL."
	if len(raw) > MaxTargetURLLength {
		v.Add("target_url", "The target url may not be greater than 2048 characters.")
		return nil
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil, u.Host == "", u.Hostname() == "", u.Opaque != "":
		v.Add("target_url", invalid)
		return nil
	case !strings.EqualFold(u.Scheme, "https"):
		v.Add("target_url", "The target url must use HTTPS.")
		return nil
	case u.User != nil:
		v.Add("target_url", "The target url must not contain credentials.")
		return nil
	case u.Fragment != "":
		v.Add("target_url", "The target url must not contain a fragment.")
		return nil
	}
	if p := u.Port(); p != "" {
		if n := atoiPort(p); n < 1 || n > 65535 {
			v.Add("target_url", invalid)
			return nil
		}
	}
	u.Scheme = "https"
	return u
}

func atoiPort(s string) int {
	if len(s) > 5 {
		return -1
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// TargetGuard decides whether the service may connect to a webhook target.
// The delivery engine implements it; the webhook service asks it at
// subscribe time, and the engine enforces the same rule again when it
// connects.
type TargetGuard interface {
	// CheckTarget returns nil when every address u's host resolves to is
	// allowed, else an EINVALID error on target_url.
	CheckTarget(ctx context.Context, u *url.URL) error
}

// DeliveryFilter narrows a subscription's deliveries.
type DeliveryFilter struct {
	SubscriptionID string
	Status         *DeliveryStatus
}

// WebhookSubscriptionFilter narrows the caller's subscriptions.
type WebhookSubscriptionFilter struct {
	OrganizationID *string
	AgentID        *string
}

// WebhookSubscriptionPage is one window of a subscription list.
type WebhookSubscriptionPage struct {
	Subscriptions []*WebhookSubscription
	Cursors       []string
	PageInfo      PageInfo
}

// WebhookDeliveryPage is one window of a delivery list.
type WebhookDeliveryPage struct {
	Deliveries []*WebhookDelivery
	Cursors    []string
	PageInfo   PageInfo
}

// WebhookService manages the caller's webhook subscriptions and shows
// their delivery log. Subscriptions belong to a workspace: every member
// sees and manages them; anyone else gets ENOTFOUND.
type WebhookService interface {
	// SubscribeWebhook creates an active subscription and returns it with
	// its secret, the only time the secret is shown. Returns EINVALID (with
	// problems under the REST parameter names), EFORBIDDEN.
	SubscribeWebhook(ctx context.Context, in SubscribeWebhookInput) (*WebhookSubscription, error)
	// UnsubscribeWebhook deletes a subscription and cancels its pending
	// deliveries. Repeating it succeeds. Returns ENOTFOUND for a
	// subscription outside the caller's workspaces.
	UnsubscribeWebhook(ctx context.Context, id string) error
	// FindWebhookSubscription returns ENOTFOUND for a missing, unsubscribed
	// or foreign subscription.
	FindWebhookSubscription(ctx context.Context, id string) (*WebhookSubscription, error)
	// ListWebhookSubscriptions lists the caller's live subscriptions, newest
	// first. Returns EINVALID (page), ENOTFOUND (a filter's workspace or
	// agent).
	ListWebhookSubscriptions(ctx context.Context, f WebhookSubscriptionFilter, page Page) (*WebhookSubscriptionPage, error)
	WebhookSubscriptionsByIDs(ctx context.Context, ids []string) ([]*WebhookSubscription, error)
	// ListWebhookDeliveries lists a subscription's deliveries, newest first.
	ListWebhookDeliveries(ctx context.Context, f DeliveryFilter, page Page) (*WebhookDeliveryPage, error)
	// FindWebhookDelivery returns ENOTFOUND for a missing or foreign
	// delivery, or one of an unsubscribed subscription.
	FindWebhookDelivery(ctx context.Context, id uuid.UUID) (*WebhookDelivery, error)
	// AttemptsByDeliveryIDs returns the attempts of the deliveries, oldest
	// first.
	AttemptsByDeliveryIDs(ctx context.Context, ids []uuid.UUID) ([]*WebhookDeliveryAttempt, error)
	// RedeliverEvent schedules the event's delivery to the subscription
	// now, with a fresh round of attempts, creating the delivery if the
	// event predates it. Returns ENOTFOUND (subscription or event), EINVALID
	// (the event is of another agent or type), ECONFLICT (the subscription
	// is disabled).
	RedeliverEvent(ctx context.Context, subscriptionID string, eventID uuid.UUID) (*WebhookDelivery, error)
}

// DeliveryJob is a claimed delivery: everything a worker needs to send it.
type DeliveryJob struct {
	DeliveryID  uuid.UUID
	LeaseToken  uuid.UUID
	EventID     uuid.UUID
	Attempt     int // the number of the attempt about to be made
	MaxAttempts int
	// Retry is the attempt's position in its round: 1 for a first attempt,
	// 2..4 for the retries.
	Retry          int
	SubscriptionID string
	Status         WebhookStatus // the subscription's
	TargetURL      string
	Secret         WebhookSecret
	Payload        []byte
}

// AttemptOutcome is what an attempt's result does to its delivery.
type AttemptOutcome string

const (
	OutcomeSucceeded AttemptOutcome = "succeeded" // delivery done
	OutcomeRetry     AttemptOutcome = "retry"     // scheduled again after Delay
	OutcomeFailed    AttemptOutcome = "failed"    // no attempts left
	OutcomeGone      AttemptOutcome = "gone"      // 410: fail and disable the subscription
	OutcomeCancelled AttemptOutcome = "cancelled" // the subscription is no longer active; nothing sent
)

// AttemptResult is a finished attempt, to be recorded under its lease.
type AttemptResult struct {
	Job         *DeliveryJob
	AttemptedAt time.Time
	Latency     time.Duration
	StatusCode  int    // 0: no response
	Error       string // "" on success
	Outcome     AttemptOutcome
	Delay       time.Duration // for OutcomeRetry
}

// DeliveryQueue is the delivery engine's storage. Its methods act for the
// system principal only (NewSystemContext) and return EFORBIDDEN for anyone
// else.
type DeliveryQueue interface {
	// FanOutCursor returns the id of the last event the fan-out handled,
	// nil before the first.
	FanOutCursor(ctx context.Context, name string) (*uuid.UUID, error)
	// FanOut creates one pending delivery per active subscription matching
	// each event (same agent and type, subscribed before the event),
	// skipping existing ones, and moves the cursor to the last event, in
	// one transaction. It wakes the delivery workers when it created any.
	FanOut(ctx context.Context, name string, eventIDs []uuid.UUID) (created int, err error)
	// LockFanOut blocks until this process is the only fan-out worker of
	// the database, or ctx ends. release gives the role up.
	LockFanOut(ctx context.Context) (release func(), err error)
	// ClaimDeliveries leases up to limit due deliveries for lease.
	ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]*DeliveryJob, error)
	// RecordAttempts stores attempt results and applies their outcomes to
	// deliveries still leased by the recorded job.
	RecordAttempts(ctx context.Context, results []*AttemptResult) error
	// ReleaseDeliveries gives leases back unused, so the deliveries are due
	// again at once (a worker stopping mid-send).
	ReleaseDeliveries(ctx context.Context, jobs []*DeliveryJob) error
	// NextDue returns how long until the earliest pending delivery comes
	// due; ok is false when there is none.
	NextDue(ctx context.Context) (wait time.Duration, ok bool, err error)
	// WaitDeliveries returns a channel signalled when new deliveries may be
	// due, and a function to stop listening.
	WaitDeliveries() (<-chan struct{}, func())
	// PruneDeliveries deletes up to limit finished deliveries (with their
	// attempts) completed before before, oldest first, and returns how many
	// it deleted. Pending deliveries are never pruned.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
}
