package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// RetryPolicy schedules the retries of a failed attempt: exponential
// backoff with "equal jitter" (half the step fixed, half random), so gaps
// always grow (retry n waits between Base·2ⁿ⁻² and Base·2ⁿ⁻¹) while
// receivers recovering from an outage still see retries spread out. A
// Retry-After from the receiver, when later, wins (up to MaxRetryAfter).
type RetryPolicy struct {
	Base          time.Duration
	Max           time.Duration // cap on one backoff step
	MaxRetryAfter time.Duration // cap on an honoured Retry-After
	// Rand returns a number in [0, 1); nil means math/rand.
	Rand func() float64
}

// Delay returns the wait before retry number retry (1 for the first retry)
// given the receiver's Retry-After (0 when absent).
func (p RetryPolicy) Delay(retry int, retryAfter time.Duration) time.Duration {
	step := p.Base
	for i := 1; i < retry && (p.Max <= 0 || step < p.Max) && step < time.Duration(1)<<60; i++ {
		step *= 2
	}
	if p.Max > 0 && step > p.Max {
		step = p.Max
	}
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	d := step/2 + time.Duration(r()*float64(step/2))
	if retryAfter > 0 {
		if p.MaxRetryAfter > 0 && retryAfter > p.MaxRetryAfter {
			retryAfter = p.MaxRetryAfter
		}
		d = max(d, retryAfter)
	}
	return d
}

// Outcome decides what an attempt's result does to its delivery. status is
// 0 when no response arrived.
func (p RetryPolicy) Outcome(job *assistloop.DeliveryJob, status int, retryAfter time.Duration) (assistloop.AttemptOutcome, time.Duration) {
	switch {
	case status >= 200 && status < 300:
		return assistloop.OutcomeSucceeded, 0
	case status == http.StatusGone:
		return assistloop.OutcomeGone, 0
	case job.Retry >= assistloop.MaxDeliveryAttempts:
		return assistloop.OutcomeFailed, 0
	}
	return assistloop.OutcomeRetry, p.Delay(job.Retry, retryAfter)
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. It returns 0 when the header is absent or unusable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > int64(365*24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
