package webhook

import (
	"net/http"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestRetryDelayGrows(t *testing.T) {
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		p := RetryPolicy{Base: 2 * time.Second, Max: time.Hour, Rand: func() float64 { return r }}
		prev := time.Duration(0)
		for retry := 1; retry <= 3; retry++ {
			d := p.Delay(retry, 0)
			step := p.Base << (retry - 1)
			if d < step/2 || d > step {
				t.Errorf("rand %v retry %d: %v outside [%v, %v]", r, retry, d, step/2, step)
			}
			if d < prev {
				t.Errorf("rand %v retry %d: %v shorter than the previous %v", r, retry, d, prev)
			}
			prev = d
		}
	}
	// Whatever the jitter, a later retry never waits less.
	lo := RetryPolicy{Base: time.Second, Rand: func() float64 { return 0.999999 }}
	hi := RetryPolicy{Base: time.Second, Rand: func() float64 { return 0 }}
	for retry := 1; retry < 3; retry++ {
		if a, b := lo.Delay(retry, 0), hi.Delay(retry+1, 0); b < a {
			t.Errorf("retry %d can wait %v but retry %d only %v", retry, a, retry+1, b)
		}
	}
}

func TestRetryDelayCapsAndRetryAfter(t *testing.T) {
	p := RetryPolicy{Base: time.Minute, Max: 2 * time.Minute, MaxRetryAfter: time.Hour, Rand: func() float64 { return 0.999999 }}
	if d := p.Delay(10, 0); d > 2*time.Minute {
		t.Errorf("delay %v above the cap", d)
	}
	if d := p.Delay(1, 10*time.Minute); d != 10*time.Minute {
		t.Errorf("Retry-After 10m: %v", d)
	}
	if d := p.Delay(1, 48*time.Hour); d != time.Hour {
		t.Errorf("Retry-After 48h: %v, want the 1h cap", d)
	}
	if d := p.Delay(1, time.Second); d < 30*time.Second {
		t.Errorf("a short Retry-After shortened the backoff to %v", d)
	}
}

func TestRetryOutcome(t *testing.T) {
	p := RetryPolicy{Base: time.Second, Max: time.Minute}
	tests := []struct {
		status, retry int
		want          assistloop.AttemptOutcome
	}{
		{200, 1, assistloop.OutcomeSucceeded},
		{204, 4, assistloop.OutcomeSucceeded},
		{299, 2, assistloop.OutcomeSucceeded},
		{500, 1, assistloop.OutcomeRetry},
		{0, 3, assistloop.OutcomeRetry},
		{302, 1, assistloop.OutcomeRetry},
		{404, 2, assistloop.OutcomeRetry},
		{429, 3, assistloop.OutcomeRetry},
		{500, 4, assistloop.OutcomeFailed},
		{0, 4, assistloop.OutcomeFailed},
		{410, 1, assistloop.OutcomeGone},
		{410, 4, assistloop.OutcomeGone},
	}
	for _, tt := range tests {
		got, delay := p.Outcome(&assistloop.DeliveryJob{Retry: tt.retry}, tt.status, 0)
		if got != tt.want {
			t.Errorf("status %d, retry %d: %s, want %s", tt.status, tt.retry, got, tt.want)
		}
		if (got == assistloop.OutcomeRetry) != (delay > 0) {
			t.Errorf("status %d, retry %d: delay %v", tt.status, tt.retry, delay)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 11, 12, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999999999999", 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.in, got, tt.want)
		}
	}
}
