package app

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/rest"
)

// metrics are the service's Prometheus metrics, in a registry of their own
// so tests can build several apps in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	webhookAttempts *prometheus.CounterVec
	webhookLatency  prometheus.Histogram
}

func newMetrics(db *bun.DB) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assistloop_http_requests_total",
			Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assistloop_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	m.webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assistloop_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome (succeeded, retry, failed, gone) and response status class.",
	}, []string{"outcome", "status"})
	m.webhookLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "assistloop_webhook_attempt_duration_seconds",
		Help:    "Webhook delivery attempt latency, from sending the request to the end of the response.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	})
	m.registry.MustRegister(m.requests, m.duration, m.webhookAttempts, m.webhookLatency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.DB, "assistloop"))
	return m
}

// observeWebhookAttempt counts one delivery attempt.
func (m *metrics) observeWebhookAttempt(r *assistloop.AttemptResult) {
	status := "none" // no response: timeout, refused connection
	if r.StatusCode > 0 {
		status = strconv.Itoa(r.StatusCode/100) + "xx"
	}
	m.webhookAttempts.WithLabelValues(string(r.Outcome), status).Inc()
	m.webhookLatency.Observe(r.Latency.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// statusRecorder remembers the status and size of a response. It keeps
// http.Hijacker working for WebSocket upgrades and Flusher for streams.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	w.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestIDKey struct{}

// RequestID returns the id the access log gave the request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// observe logs every request once (never its query string or headers,
// which may carry credentials), counts it and times it. It also turns a
// handler panic into a JSON 500.
func observe(log *slog.Logger, m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get("X-Request-Id")
			if id == "" || len(id) > 64 {
				id = assistloop.RandomString(16)
			}
			w.Header().Set("X-Request-Id", id)
			rec := &statusRecorder{ResponseWriter: w}
			r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("handler panicked", "request_id", id, "panic", v, "stack", string(debug.Stack()))
					if rec.status == 0 {
						rest.WriteErrorBody(rec, http.StatusInternalServerError, assistloop.ErrorOf(nil))
					}
				}
				route := chi.RouteContext(r.Context()).RoutePattern()
				if route == "" {
					route = "unmatched"
				}
				status := rec.status
				if status == 0 {
					status = http.StatusOK
				}
				elapsed := time.Since(start)
				m.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Inc()
				m.duration.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"route", route, "status", status, "bytes", rec.bytes, "duration_ms", float64(elapsed.Microseconds())/1000,
					"remote", r.RemoteAddr)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// trustProxies makes r.RemoteAddr the client's address when the request
// came through a trusted proxy (its X-Forwarded-For), and records the
// scheme the client used (X-Forwarded-Proto) for the HTTPS requirement.
func trustProxies(trusted []*net.IPNet) func(http.Handler) http.Handler {
	isTrusted := func(addr string) bool {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		ip := net.ParseIP(host)
		for _, n := range trusted {
			if ip != nil && n.Contains(ip) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isTrusted(r.RemoteAddr) {
				r.Header.Del("X-Forwarded-Proto")
				r.Header.Del("X-Forwarded-For")
				next.ServeHTTP(w, r)
				return
			}
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				// The right-most address not of a trusted proxy is the client.
				hops := strings.Split(xff, ",")
				for i := len(hops) - 1; i >= 0; i-- {
					hop := strings.TrimSpace(hops[i])
					if net.ParseIP(hop) == nil {
						break
					}
					r.RemoteAddr = net.JoinHostPort(hop, "0")
					if !isTrusted(r.RemoteAddr) {
						break
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
