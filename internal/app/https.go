package app

import (
	"net/http"
	"strings"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/rest"
)

// requireHTTPS refuses, when enabled, every request that reached the
// service over plain HTTP: neither over TLS to this server nor, per the
// X-Forwarded-Proto of a trusted proxy (trustProxies drops the header from
// anyone else), over HTTPS to the proxy. The operations endpoints (health,
// readiness, metrics) stay reachable for probes on the internal network.
func requireHTTPS(enabled bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if !enabled {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil || strings.EqualFold(firstHop(r.Header.Get("X-Forwarded-Proto")), "https") || operational(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			rest.WriteErrorBody(w, http.StatusForbidden, &assistloop.Error{Code: assistloop.EFORBIDDEN, Title: "HTTPS required",
				Message: "All API requests must be made over HTTPS. Calls made over plain HTTP fail."})
		})
	}
}

// firstHop returns the first value of a comma-separated forwarded header:
// the one the outermost proxy, which the client talked to, wrote.
func firstHop(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

func operational(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}
