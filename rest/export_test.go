package rest

import (
	"context"
	"log/slog"

	"github.com/99designs/gqlgen/graphql/executor"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// RouteInfo describes a route for the tests.
type RouteInfo struct {
	Method, Pattern string
	Scope           assistloop.Scope
	CloseLimit      bool
}

// Routes lists the route table.
func Routes() []RouteInfo {
	out := make([]RouteInfo, len(routes))
	for i, rt := range routes {
		out[i] = RouteInfo{Method: rt.method, Pattern: rt.pattern, Scope: rt.scope, CloseLimit: rt.closeLimit}
	}
	return out
}

// ExecuteRoute runs the GraphQL document of the route with method and
// pattern, as the principal in ctx, discarding the data.
func ExecuteRoute(ctx context.Context, exec *executor.Executor, method, pattern string, vars map[string]any) error {
	for _, rt := range routes {
		if rt.pattern == pattern && rt.method == method {
			_, err := (&api{exec: exec, log: slog.New(slog.DiscardHandler)}).execute(ctx, rt.document, vars)
			return err
		}
	}
	panic("no route " + pattern)
}

// Document returns the GraphQL document of the route with pattern.
func Document(pattern string) string {
	for _, rt := range routes {
		if rt.pattern == pattern {
			return rt.document
		}
	}
	panic("no route " + pattern)
}
