package webhook

import (
	"context"
	"sync"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// finished is an attempt on its way to the recorder: a result to record,
// or a lease to give back unused (the worker stopped mid-send).
type finished struct {
	result  *assistloop.AttemptResult
	release *assistloop.DeliveryJob
}

// recordBatch caps the results written by one transaction.
const recordBatch = 256

// claimTimeout bounds one claim query.
const claimTimeout = 30 * time.Second

// RunDelivery runs this process's delivery workers, as the system
// principal, until ctx ends: it claims due deliveries, sends up to
// Concurrency of them at once, and records the attempts in batches. When
// ctx ends it claims nothing more and gives the attempts in flight
// ShutdownGrace to finish; those still running then are abandoned and their
// leases released, so another worker retries them at once (the receiver
// may then see the event twice, with the same webhook-id).
func (e *Engine) RunDelivery(ctx context.Context) {
	ctx = assistloop.NewSystemContext(ctx)
	// Attempts outlive ctx by the grace period.
	sendCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	go func() {
		select {
		case <-ctx.Done():
		case <-sendCtx.Done():
			return
		}
		grace := time.NewTimer(e.opts.ShutdownGrace)
		defer grace.Stop()
		select {
		case <-grace.C:
			abandon()
		case <-sendCtx.Done():
		}
	}()
	wake, stopWaiting := e.queue.WaitDeliveries()
	defer stopWaiting()

	out := make(chan finished, e.opts.Concurrency)
	// rescheduled tells the loop that recorded attempts scheduled retries
	// (or released leases): the next due time may have moved closer.
	rescheduled := make(chan struct{}, 1)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		e.record(context.WithoutCancel(ctx), out, rescheduled)
	}()

	var (
		senders sync.WaitGroup
		slots   = make(chan struct{}, e.opts.Concurrency) // one per attempt in flight
		freed   = make(chan struct{}, 1)
		// A full pool claims again once this many slots are free, so that
		// claims stay batched under load.
		refill = max(1, min(e.opts.ClaimBatch, e.opts.Concurrency/4))
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		free := e.opts.Concurrency - len(slots)
		wait := e.opts.IdlePoll
		if free > 0 {
			want := min(free, e.opts.ClaimBatch)
			// The claim is not cancelled by a stop: a claim cut off after
			// the database leased the rows would strand them until their
			// leases ran out. A stop that arrives meanwhile gives them back.
			claimCtx, cancelClaim := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
			jobs, err := e.queue.ClaimDeliveries(claimCtx, want, e.opts.Lease)
			cancelClaim()
			if ctx.Err() != nil {
				for _, job := range jobs {
					out <- finished{release: job}
				}
				break
			}
			if err != nil {
				e.log.Error("webhook delivery: claiming failed", "err", err)
			}
			for _, job := range jobs {
				slots <- struct{}{}
				senders.Add(1)
				go func() {
					defer senders.Done()
					out <- e.attempt(sendCtx, job)
					<-slots
					if e.opts.Concurrency-len(slots) >= refill {
						select {
						case freed <- struct{}{}:
						default:
						}
					}
				}()
			}
			if err == nil && len(jobs) == want {
				continue // there may be more due right now
			}
			if err == nil {
				if d, ok, err := e.queue.NextDue(ctx); err == nil && ok && d < wait {
					wait = d
				}
			}
		}
		timer.Reset(max(wait, 0)) // since Go 1.23 a Reset never delivers a stale tick
		select {
		case <-ctx.Done():
		case <-wake:
		case <-freed:
		case <-rescheduled:
		case <-timer.C:
		}
	}
	senders.Wait()
	close(out)
	<-recorded
}

// attempt makes one attempt at a claimed delivery.
func (e *Engine) attempt(ctx context.Context, job *assistloop.DeliveryJob) finished {
	if job.Status != assistloop.WebhookActive {
		// Unsubscribed or disabled since the delivery was created.
		return finished{result: &assistloop.AttemptResult{Job: job, AttemptedAt: time.Now(), Outcome: assistloop.OutcomeCancelled}}
	}
	resp := e.client.Send(ctx, job)
	if ctx.Err() != nil && resp.StatusCode == 0 {
		return finished{release: job}
	}
	status := resp.StatusCode
	if resp.Err != nil && status >= 200 && status < 300 {
		status = 0
	}
	outcome, delay := e.opts.Retry.Outcome(job, status, resp.RetryAfter)
	r := &assistloop.AttemptResult{
		Job: job, AttemptedAt: resp.AttemptedAt, Latency: resp.Latency,
		StatusCode: resp.StatusCode, Outcome: outcome, Delay: delay,
	}
	if resp.Err != nil {
		r.Error = resp.Err.Error()
	}
	if e.opts.Observe != nil {
		e.opts.Observe(r)
	}
	if outcome != assistloop.OutcomeSucceeded {
		// The target URL is a secret of its owner (Make's hook URLs are):
		// logs name the subscription only.
		e.log.Warn("webhook delivery attempt failed", "subscription", job.SubscriptionID,
			"event", job.EventID, "attempt", job.Attempt, "status", resp.StatusCode,
			"error", r.Error, "outcome", outcome, "retry_in", delay)
	}
	return finished{result: r}
}

// record writes finished attempts in batches until in closes, signalling
// rescheduled when a batch made deliveries due again. ctx is not cancelled
// at shutdown, so the last results are still written.
func (e *Engine) record(ctx context.Context, in <-chan finished, rescheduled chan<- struct{}) {
	for f := range in {
		batch := []finished{f}
	drain:
		for len(batch) < recordBatch {
			select {
			case f, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, f)
			default:
				break drain
			}
		}
		var results []*assistloop.AttemptResult
		var releases []*assistloop.DeliveryJob
		retries := false
		for _, f := range batch {
			if f.result != nil {
				results = append(results, f.result)
				retries = retries || f.result.Outcome == assistloop.OutcomeRetry
			} else {
				releases = append(releases, f.release)
			}
		}
		e.retryWrite(ctx, "recording attempts", func(ctx context.Context) error {
			return e.queue.RecordAttempts(ctx, results)
		})
		e.retryWrite(ctx, "releasing leases", func(ctx context.Context) error {
			return e.queue.ReleaseDeliveries(ctx, releases)
		})
		if retries || len(releases) > 0 {
			select {
			case rescheduled <- struct{}{}:
			default:
			}
		}
	}
}

// retryWrite tries a write a few times. If it still fails, the leases run
// out and the deliveries are attempted again: at least once, never lost.
func (e *Engine) retryWrite(ctx context.Context, what string, write func(context.Context) error) {
	for i, pause := range []time.Duration{100 * time.Millisecond, time.Second, 0} {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := write(wctx)
		cancel()
		if err == nil {
			return
		}
		e.log.Error("webhook delivery: "+what+" failed", "err", err, "try", i+1)
		time.Sleep(pause)
	}
}
