// Package scheduler sends scheduled messages when they are due. Every
// instance runs one; the storage's claims (SKIP LOCKED and a lease) and
// its checked send make each message go out exactly once however many run,
// and a restart loses nothing: the database holds every schedule.
package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Options configure a scheduler.
type Options struct {
	// Poll bounds the sleep of an idle scheduler (another instance
	// scheduled something; a lease ran out).
	Poll time.Duration
	// Lease is how long a claimed message stays with this scheduler.
	Lease time.Duration
	// Batch caps the messages claimed at once.
	Batch int
}

func (o Options) withDefaults() Options {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	return o
}

// Waiter is implemented by stores that can wake the scheduler when a
// message is scheduled in this process.
type Waiter interface {
	WaitScheduled() (<-chan struct{}, func())
}

// Start runs the scheduler in a goroutine until ctx ends; wg is done when
// it has stopped.
func Start(ctx context.Context, wg *sync.WaitGroup, store assistloop.MessageScheduler, opts Options, log *slog.Logger) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		Run(ctx, store, opts, log)
	}()
}

// Run sends due messages until ctx ends, as the system principal.
func Run(ctx context.Context, store assistloop.MessageScheduler, opts Options, log *slog.Logger) {
	opts = opts.withDefaults()
	ctx = assistloop.NewSystemContext(ctx)
	var wake <-chan struct{}
	if w, ok := store.(Waiter); ok {
		c, stop := w.WaitScheduled()
		defer stop()
		wake = c
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
		wait := opts.Poll
		for ctx.Err() == nil {
			jobs, err := store.ClaimDueMessages(ctx, opts.Batch, opts.Lease)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("scheduler: claiming failed", "err", err)
				}
				break
			}
			for _, job := range jobs {
				if _, err := store.SendScheduledMessage(ctx, job); err != nil && ctx.Err() == nil {
					// The lease runs out and another claim retries it.
					log.Error("scheduler: sending failed", "message", assistloop.MessagePublicID(job.MessageID), "err", err)
				}
			}
			if len(jobs) < opts.Batch {
				if d, ok, err := store.NextScheduledDue(ctx); err == nil && ok && d < wait {
					wait = d
				}
				break
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}
