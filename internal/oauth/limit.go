package oauth

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/httprate"
)

// LoginLimits bound failed sign-ins on the consent page, per account and
// per client address, over a sliding window. Only failures count; once a
// key is over its limit, sign-ins for it are refused without checking the
// password until the window has slid past the failures.
type LoginLimits struct {
	PerAccount int           // failures per account (email); default 10
	PerIP      int           // failures per client address; default 50
	Window     time.Duration // default 15 minutes
	// Counter, when set, makes a counter shared between instances (for
	// example an httprate-redis counter); default: in memory.
	Counter func() httprate.LimitCounter
}

// Default login limits.
const (
	DefaultLoginFailuresPerAccount = 10
	DefaultLoginFailuresPerIP      = 50
	DefaultLoginWindow             = 15 * time.Minute
)

type loginLimiter struct {
	account, ip *failureLimit
	window      time.Duration
}

type failureLimit struct {
	rl    *httprate.RateLimiter
	limit int
}

func newLoginLimiter(l LoginLimits) *loginLimiter {
	if l.PerAccount <= 0 {
		l.PerAccount = DefaultLoginFailuresPerAccount
	}
	if l.PerIP <= 0 {
		l.PerIP = DefaultLoginFailuresPerIP
	}
	if l.Window <= 0 {
		l.Window = DefaultLoginWindow
	}
	mk := func(limit int) *failureLimit {
		var opts []httprate.Option
		if l.Counter != nil {
			opts = append(opts, httprate.WithLimitCounter(l.Counter()))
		}
		return &failureLimit{rl: httprate.NewRateLimiter(limit, l.Window, opts...), limit: limit}
	}
	return &loginLimiter{account: mk(l.PerAccount), ip: mk(l.PerIP), window: l.Window}
}

// blocked reports whether the key has used up its failures. A counter that
// cannot be read blocks nothing: the password check still stands.
func (f *failureLimit) blocked(key string) bool {
	_, rate, err := f.rl.Status(key)
	return err == nil && rate >= float64(f.limit)
}

// fail records one failure for the key.
func (f *failureLimit) fail(r *http.Request, key string) {
	f.rl.OnLimit(discardHeaders{}, r, key)
}

func accountKey(email string) string {
	return "oauth-login:account:" + strings.ToLower(strings.TrimSpace(email))
}

func ipKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "oauth-login:ip:" + httprate.CanonicalizeIP(host)
}

// Blocked reports whether a sign-in for the email from r must be refused.
func (l *loginLimiter) Blocked(r *http.Request, email string) bool {
	return l.account.blocked(accountKey(email)) || l.ip.blocked(ipKey(r))
}

// Failed records a failed sign-in.
func (l *loginLimiter) Failed(r *http.Request, email string) {
	l.account.fail(r, accountKey(email))
	l.ip.fail(r, ipKey(r))
}

// RetryAfter is the advice given to a refused client, in seconds.
func (l *loginLimiter) RetryAfter() int { return int(l.window.Seconds()) }

// discardHeaders receives the rate-limit headers httprate sets while
// counting a failure; the sign-in response carries its own.
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}
