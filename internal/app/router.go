package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
	httprateredis "github.com/go-chi/httprate-redis"

	"github.com/assistloop/assistloop/graph"
	"github.com/assistloop/assistloop/graph/playground"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
	"github.com/assistloop/assistloop/internal/oauth"
	"github.com/assistloop/assistloop/rest"
)

// Handler builds the service's HTTP router.
func (a *App) Handler() http.Handler {
	m := a.metrics
	r := chi.NewRouter()
	r.Use(trustProxies(a.Config.TrustedProxies))
	r.Use(observe(a.Log, m))
	r.Use(requireHTTPS(a.Config.RequireHTTPS))

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		rest.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Store.Ping(ctx); err != nil {
			a.Log.Warn("readiness check failed", "err", err)
			rest.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
			return
		}
		rest.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
	})
	r.Method(http.MethodGet, "/metrics", m.handler())

	gql := graph.NewHandler(a.Resolver, a.graphOptions())
	authed := auth.Require(a.Tokens, a.writeGraphQLError)(gql)
	r.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A WebSocket carries its token in the connection_init payload,
		// which the GraphQL transport checks; browsers cannot set headers
		// on the upgrade request.
		if isWebSocketUpgrade(r) {
			gql.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	}))

	// The playground page carries no data: it is public, and every request
	// it makes to /graphql carries the token typed into its headers editor.
	pg := playground.Handler(playground.Options{Title: "AssistLoop GraphQL", Endpoint: "/graphql"})
	r.Handle("/playground", pg)
	r.Handle("/playground/*", pg)

	oauthOpts := oauth.Options{Users: a.Services.Users, OAuth: a.OAuth, Issuer: a.Config.PublicURL, Log: a.Log}
	if a.Redis != nil {
		// Failed sign-ins count across every instance.
		oauthOpts.LoginLimits.Counter = func() httprate.LimitCounter {
			return httprateredis.NewCounter(&httprateredis.Config{Client: a.Redis, PrefixKey: a.RedisPrefix + ":oauth-login",
				WindowLength: oauth.DefaultLoginWindow})
		}
	}
	oauth.Mount(r, oauthOpts)

	// The REST API, under both documented prefixes; one handler, so both
	// share each account's rate-limit budget.
	api := a.restHandler()
	r.Mount("/v1", api)
	r.Mount("/api/v1", api)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		rest.WriteErrorBody(w, http.StatusNotFound, &assistloop.Error{Code: assistloop.ENOTFOUND, Title: "Not found",
			Message: "The requested route does not exist."})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		rest.WriteErrorBody(w, http.StatusMethodNotAllowed, &assistloop.Error{Code: assistloop.EINVALID, Title: "Method not allowed",
			Message: "The route does not support the " + r.Method + " method."})
	})
	return r
}

// restHandler builds the REST API over the in-process executor. Its GraphQL
// documents are fixed, so an invalid one is a programming error: it panics
// at start, and in every test that builds the router.
func (a *App) restHandler() http.Handler {
	h, err := rest.New(rest.Options{
		Executor: a.Executor,
		Tokens:   a.Tokens,
		Log:      a.Log,

		Attachments:    a.Services.Attachments,
		UploadMaxBytes: a.Config.UploadMaxBytes,
		PublicURL:      a.Config.PublicURL,
		RateLimit: rest.RateLimitOptions{
			Window:      a.Config.RateLimitWindow,
			Redis:       a.Redis,
			RedisPrefix: a.RedisPrefix + ":ratelimit",
		},
	})
	if err != nil {
		panic(err)
	}
	return h
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// writeGraphQLError answers a GraphQL request that failed before reaching
// the schema (no or bad token) in the GraphQL response shape.
func (a *App) writeGraphQLError(w http.ResponseWriter, r *http.Request, err error) {
	e := assistloop.ErrorOf(err)
	if e.Code == assistloop.EINTERNAL {
		a.Log.ErrorContext(r.Context(), "authentication failed", "err", err)
	}
	code := map[string]string{assistloop.EUNAUTHORIZED: "UNAUTHENTICATED"}[e.Code]
	if code == "" {
		code = "INTERNAL_SERVER_ERROR"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rest.StatusOf(e.Code))
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": map[string]any{"code": code, "title": e.Title}}},
	})
}
