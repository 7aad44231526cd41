// Package webhook is the delivery engine of the Make instant triggers: the
// fan-out worker that turns committed events into deliveries, the delivery
// workers that send them, the signer, the retry policy and the SSRF guard.
//
// The flow: the fan-out worker consumes the `events` GraphQL subscription
// in-process, as the system principal, resuming from a cursor kept in
// PostgreSQL, and creates one delivery per matching subscription (unique per
// event and subscription, so replays add nothing). Delivery workers claim
// due deliveries with SELECT … FOR UPDATE SKIP LOCKED and a lease, send
// them outside any transaction and record every attempt. Delivery is at
// least once: a receiver may see an event twice, always with the same
// webhook-id.
package webhook

import (
	"context"
	"crypto/x509"
	"log/slog"
	"sync"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Options configure the engine. Zero fields take the defaults of
// DefaultOptions; tests shorten the durations.
type Options struct {
	// AllowPrivateTargets lets targets resolve to loopback and private
	// addresses (WEBHOOK_ALLOW_PRIVATE_TARGETS). HTTPS stays required.
	AllowPrivateTargets bool
	// RootCAs are the CAs trusted for targets; nil means the system roots
	// (which honour SSL_CERT_FILE).
	RootCAs *x509.CertPool

	// Timeout bounds one attempt: success is a 2xx within it.
	Timeout time.Duration
	// Retry schedules retries.
	Retry RetryPolicy
	// Concurrency is how many attempts one process makes at once.
	Concurrency int
	// ClaimBatch caps the deliveries claimed by one query.
	ClaimBatch int
	// Lease is how long a claimed delivery stays with its worker; it must
	// outlast Timeout, so an attempt always ends before its lease does.
	Lease time.Duration
	// ShutdownGrace is how long attempts in flight may go on once the
	// engine is told to stop.
	ShutdownGrace time.Duration
	// IdlePoll bounds the sleep of an idle delivery worker (a lost
	// notification, a crashed worker's lease running out).
	IdlePoll time.Duration
	// FanOutBatch caps the events fanned out in one statement.
	FanOutBatch int
	// RestartDelay is the pause before a failed fan-out stream restarts.
	RestartDelay time.Duration
	// CursorName names the fan-out's cursor row.
	CursorName string
	// Observe, when set, is told of every attempt made (for metrics).
	Observe func(*assistloop.AttemptResult)
	// Retention is how long finished deliveries and their attempts stay
	// in the delivery log (WEBHOOK_LOG_RETENTION); negative keeps them
	// forever.
	Retention time.Duration
	// RetentionInterval is how often the log is pruned.
	RetentionInterval time.Duration
}

// DefaultOptions are the production settings (contract §6: 15 s per
// attempt, 3 retries).
func DefaultOptions() Options {
	return Options{
		Timeout:       15 * time.Second,
		Retry:         RetryPolicy{Base: 5 * time.Second, Max: 10 * time.Minute, MaxRetryAfter: time.Hour},
		Concurrency:   64,
		ClaimBatch:    64,
		Lease:         45 * time.Second, // Timeout + 30 s for recording
		ShutdownGrace: 5 * time.Second,
		IdlePoll:      2 * time.Second,
		FanOutBatch:   256,
		RestartDelay:  time.Second,
		CursorName:    "webhooks",

		Retention:         30 * 24 * time.Hour,
		RetentionInterval: time.Hour,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.Retry.Base <= 0 {
		o.Retry.Base = d.Retry.Base
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = d.Retry.Max
	}
	if o.Retry.MaxRetryAfter <= 0 {
		o.Retry.MaxRetryAfter = d.Retry.MaxRetryAfter
	}
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = d.ClaimBatch
	}
	if o.Lease < o.Timeout+time.Second {
		o.Lease = o.Timeout + 30*time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = d.ShutdownGrace
	}
	if o.IdlePoll <= 0 {
		o.IdlePoll = d.IdlePoll
	}
	if o.FanOutBatch <= 0 {
		o.FanOutBatch = d.FanOutBatch
	}
	if o.RestartDelay <= 0 {
		o.RestartDelay = d.RestartDelay
	}
	if o.CursorName == "" {
		o.CursorName = d.CursorName
	}
	if o.Retention == 0 {
		o.Retention = d.Retention
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = d.RetentionInterval
	}
	return o
}

// Engine runs the fan-out worker and the delivery workers of one process.
type Engine struct {
	opts   Options
	queue  assistloop.DeliveryQueue
	exec   Executor
	client *Client
	log    *slog.Logger
}

// NewEngine returns an engine over the queue, consuming events through
// exec (the in-process GraphQL executor).
func NewEngine(queue assistloop.DeliveryQueue, exec Executor, opts Options, log *slog.Logger) *Engine {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	guard := NewGuard(opts.AllowPrivateTargets)
	return &Engine{
		opts: opts, queue: queue, exec: exec, log: log,
		client: NewClient(guard, opts.RootCAs, opts.Timeout, opts.Concurrency),
	}
}

// Start runs the fan-out worker, the delivery workers and the log's
// retention until ctx ends, marking wg done as each stops.
func (e *Engine) Start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(3)
	go func() {
		defer wg.Done()
		e.RunFanOut(ctx)
	}()
	go func() {
		defer wg.Done()
		e.RunDelivery(ctx)
	}()
	go func() {
		defer wg.Done()
		e.RunRetention(ctx)
	}()
}

// sleep waits for d or until ctx ends; it reports whether ctx is still
// live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
