package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// hasScope implements @hasScope: the field resolves only for a principal
// holding the scope.
func hasScope(ctx context.Context, _ any, next graphql.Resolver, scope assistloop.Scope) (any, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.Require(scope); err != nil {
		return nil, err
	}
	return next(ctx)
}
