package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// Options configure the GraphQL server.
type Options struct {
	// ComplexityLimit caps a query's cost; see complexity.go.
	ComplexityLimit int
	// Introspection enables schema introspection (and so the playground's
	// documentation explorer).
	Introspection bool
	// Tokens authenticates the bearer token of a WebSocket connection.
	Tokens auth.Authenticator
	// KeepAlive is the WebSocket keep-alive ping interval.
	KeepAlive time.Duration
}

// NewSchema returns the executable schema over the resolver.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	cfg := Config{Resolvers: r}
	cfg.Directives.HasScope = hasScope
	setComplexity(&cfg.Complexity)
	return NewExecutableSchema(cfg)
}

// configurable is what handler.Server and executor.Executor share.
type configurable interface {
	Use(graphql.HandlerExtension)
	AroundFields(graphql.FieldMiddleware)
	SetErrorPresenter(graphql.ErrorPresenterFunc)
	SetRecoverFunc(graphql.RecoverFunc)
	SetQueryCache(graphql.Cache[*ast.QueryDocument])
}

// configure applies the same extensions to the HTTP server and to the
// in-process executor, so REST and GraphQL clients get identical behaviour.
func configure(s configurable, r *Resolver, opts Options) {
	if opts.Introspection {
		s.Use(extension.Introspection{})
	}
	limit := opts.ComplexityLimit
	if limit <= 0 {
		limit = DefaultComplexityLimit
	}
	s.Use(extension.FixedComplexityLimit(limit))
	s.Use(loaderExtension{r: r})
	s.AroundFields(markInternal)
	s.SetErrorPresenter(presentError(r.Log))
	s.SetRecoverFunc(recoverPanic(r.Log))
	s.SetQueryCache(lru.New[*ast.QueryDocument](1000))
}

// NewHandler returns the GraphQL HTTP handler: POST and GET queries, and
// subscriptions over WebSocket (graphql-transport-ws and the legacy
// graphql-ws). HTTP requests must already carry a principal in their
// context (auth.Require); WebSocket connections authenticate with the
// connection_init payload.
func NewHandler(r *Resolver, opts Options) http.Handler {
	srv := handler.New(NewSchema(r))
	keepAlive := opts.KeepAlive
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}
	srv.AddTransport(transport.Websocket{
		// graphql-ws (legacy) gets "ka" messages; graphql-transport-ws
		// gets "ping" and must answer "pong" within two intervals, or the
		// connection (and its subscriptions) is closed: a vanished peer
		// does not hold streams open.
		KeepAlivePingInterval: keepAlive,
		PingPongInterval:      keepAlive,
		InitTimeout:           10 * time.Second,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			token, ok := auth.BearerToken(payload.Authorization())
			if !ok {
				return ctx, nil, assistloop.Unauthorized()
			}
			p, err := opts.Tokens.AuthenticateToken(ctx, token)
			if err != nil {
				return ctx, nil, err
			}
			return assistloop.WithPrincipal(ctx, p), nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	configure(srv, r, opts)
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	return srv
}

// NewExecutor returns an in-process executor over the same schema and
// extensions as NewHandler, for callers that run fixed documents (the REST
// adapter, the webhook fan-out worker).
func NewExecutor(r *Resolver, opts Options) *executor.Executor {
	exec := executor.New(NewSchema(r))
	configure(exec, r, opts)
	return exec
}
