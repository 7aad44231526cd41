package rest

import (
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/httprate"
	httprateredis "github.com/go-chi/httprate-redis"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// The reference's rate limits, per connected account (a user through one
// OAuth client) and window.
const (
	// AccountLimit applies to every route together.
	AccountLimit = 60
	// CloseLimit applies to closing conversations, on top of AccountLimit.
	CloseLimit = 10
)

// limits are the API's rate limiters.
type limits struct {
	all, close *limiter
	// anonymous counts requests without a valid token (refused with 401,
	// or to public routes) per client address, so they carry rate-limit
	// headers too and token guessing is throttled.
	anonymous *limiter
	log       *slog.Logger
}

// limiter is one budget: limit requests per window and account, counted by
// httprate with a sliding window.
type limiter struct {
	rl     *httprate.RateLimiter
	limit  int
	window time.Duration
}

func newLimits(o RateLimitOptions, log *slog.Logger) *limits {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = "assistloop:ratelimit"
	}
	return &limits{
		all:       newLimiter("all", AccountLimit, o, log),
		close:     newLimiter("close", CloseLimit, o, log),
		anonymous: newLimiter("anonymous", AccountLimit, o, log),
		log:       log,
	}
}

func newLimiter(name string, limit int, o RateLimitOptions, log *slog.Logger) *limiter {
	l := &limiter{limit: limit, window: o.Window}
	opts := []httprate.Option{
		// A counter failure is reported to the sink OnLimit writes to.
		httprate.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
			if s, ok := w.(*headerSink); ok {
				s.err = err
			}
		}),
	}
	if o.Redis != nil {
		opts = append(opts, httprateredis.WithRedisLimitCounter(&httprateredis.Config{
			Client:       o.Redis,
			PrefixKey:    o.RedisPrefix + ":" + name,
			WindowLength: o.Window,
			// While Redis is unreachable each instance counts on its own
			// rather than refusing every request.
			OnFallbackChange: func(activated bool) {
				if activated {
					log.Warn("rate limit: Redis unreachable, counting in this process", "limiter", name)
				} else {
					log.Info("rate limit: Redis reachable again", "limiter", name)
				}
			},
		}))
	}
	l.rl = httprate.NewRateLimiter(limit, o.Window, opts...)
	return l
}

// accountKey names the connected account of an authenticated request: the
// token's user and the OAuth client it was issued to.
func accountKey(r *http.Request) string {
	p := assistloop.PrincipalFrom(r.Context())
	if p == nil {
		return ""
	}
	return p.UserID + "|" + p.ClientID
}

// middleware counts each request against every limiter of chain, keyed by
// its connected account (see admit).
func (ls *limits) middleware(chain ...*limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ls.admit(w, r, accountKey(r), chain...) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// anonymousKey names the client address of a request without a valid
// token (the router has already resolved trusted proxies).
func anonymousKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip|" + host
}

// public counts a request that needs no token (or whose token was refused)
// against the anonymous budget of its client address.
func (ls *limits) public(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ls.admit(w, r, anonymousKey(r), ls.anonymous) {
			next(w, r)
		}
	}
}

// admit counts the request against every limiter of chain under key. A
// request over any budget gets 429 (admit writes it and returns false) and
// counts against none; otherwise it counts against all, and
// X-RateLimit-Limit/-Remaining describe the budget closest to running out.
func (ls *limits) admit(w http.ResponseWriter, r *http.Request, key string, chain ...*limiter) bool {
	for _, l := range chain {
		exceeded, err := l.exceeded(key)
		if err != nil {
			ls.unavailable(w, r, err)
			return false
		}
		if exceeded {
			l.refuse(w)
			return false
		}
	}
	tightest, tightestRemaining := (*limiter)(nil), math.MaxInt
	for _, l := range chain {
		sink := &headerSink{header: http.Header{}}
		if l.rl.OnLimit(sink, r, key) {
			if sink.err != nil {
				ls.unavailable(w, r, sink.err)
				return false
			}
			l.refuse(w) // a concurrent request took the last slot
			return false
		}
		if n, err := strconv.Atoi(sink.header.Get("X-RateLimit-Remaining")); err == nil && n < tightestRemaining {
			tightest, tightestRemaining = l, n
		}
	}
	if tightest != nil {
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(tightest.limit))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(tightestRemaining, 0)))
	}
	return true
}

// exceeded reports whether one more request would go over the budget,
// without counting it.
func (l *limiter) exceeded(key string) (bool, error) {
	_, rate, err := l.rl.Status(key)
	if err != nil {
		return false, err
	}
	return int(math.Round(rate))+1 > l.limit, nil
}

// tooManyAttempts is the reference's 429 body.
type tooManyAttempts struct {
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after"`
}

// refuse answers 429. The budget frees up within one window.
func (l *limiter) refuse(w http.ResponseWriter) {
	retry := max(int(math.Ceil(l.window.Seconds())), 1)
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
	w.Header().Set("X-RateLimit-Remaining", "0")
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	WriteJSON(w, http.StatusTooManyRequests, tooManyAttempts{Message: "Too Many Attempts.", RetryAfter: retry})
}

// unavailable answers 503 when a counter fails (only possible with Redis
// and its local fallback both failing).
func (ls *limits) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	ls.log.ErrorContext(r.Context(), "rate limit counter failed", "err", err)
	WriteErrorBody(w, http.StatusServiceUnavailable, &assistloop.Error{Code: assistloop.EUNAVAILABLE,
		Title: "Service unavailable", Message: "The service is temporarily unavailable. Please retry shortly."})
}

// headerSink is the ResponseWriter httprate writes its headers to, so the
// middleware can merge several limiters' headers into one answer.
type headerSink struct {
	header http.Header
	err    error
}

func (s *headerSink) Header() http.Header         { return s.header }
func (s *headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (s *headerSink) WriteHeader(int)             {}
