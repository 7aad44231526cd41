package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/go-chi/chi/v5"

	"github.com/assistloop/assistloop/graph"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// A route is one documented endpoint.
type route struct {
	method  string
	pattern string // chi pattern, relative to /v1
	// scope is the scope the route needs ("" for any valid token). It is
	// checked before the request is read, so a token without it gets 403
	// whatever else is wrong; the GraphQL fields check it again.
	scope assistloop.Scope
	// closeLimit subjects the route to the close budget too.
	closeLimit bool
	// document is the GraphQL operation the route runs, in-process.
	document string
	// serve reads the request, runs the document (x.run) and returns the
	// response body: a value to encode, rawJSON, or streamed when it wrote
	// the response itself (file downloads).
	serve func(x *exchange) (any, error)
	// status is the success status (200 when 0).
	status int
}

// rawJSON is a response body that is already encoded.
type rawJSON []byte

// streamed is the body of a route that wrote its response itself.
type streamed struct{}

// exchange is one request to a route.
type exchange struct {
	*api
	route *route
	w     http.ResponseWriter
	r     *http.Request
}

func (a *api) handler(rt *route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rt.scope != "" {
			if err := assistloop.PrincipalFrom(r.Context()).Require(rt.scope); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		body, err := rt.serve(&exchange{api: a, route: rt, w: w, r: r})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if rt.status != 0 {
			status = rt.status
		}
		switch b := body.(type) {
		case streamed:
		case rawJSON:
			writeRaw(w, status, b)
		default:
			WriteJSON(w, status, body)
		}
	}
}

// writeError writes err. Errors GraphQL reported were logged by its error
// presenter already; anything else goes through WriteError, which logs
// internal errors once.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ge *graphQLError
	if errors.As(err, &ge) {
		WriteErrorBody(w, StatusOf(ge.e.Code), ge.e)
		return
	}
	WriteError(a.log)(w, r, err)
}

// graphQLError is a domain error rebuilt from a GraphQL error.
type graphQLError struct{ e *assistloop.Error }

func (g *graphQLError) Error() string { return g.e.Error() }
func (g *graphQLError) Unwrap() error { return g.e }

// pathParam returns a path parameter of the route's pattern.
func (x *exchange) pathParam(name string) string { return chi.URLParam(x.r, name) }

// run executes the route's document with vars as the request's principal
// and returns the response's data (gqlgen's JSON). A GraphQL error becomes
// the domain error it presents.
func (x *exchange) run(vars map[string]any) ([]byte, error) {
	return x.execute(x.r.Context(), x.route.document, vars)
}

// runInto runs the route's document with vars and decodes its data into
// dst.
func (x *exchange) runInto(vars map[string]any, dst any) error {
	data, err := x.run(vars)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, dst)
}

func (a *api) execute(ctx context.Context, document string, vars map[string]any) ([]byte, error) {
	ctx = graphql.StartOperationTrace(ctx)
	start := graphql.Now()
	params := &graphql.RawParams{Query: document, Variables: vars,
		ReadTime: graphql.TraceTiming{Start: start, End: start}}
	oc, errs := a.exec.CreateOperationContext(ctx, params)
	var resp *graphql.Response
	if errs != nil {
		// The adapter validates every input before it builds variables, so
		// GraphQL refusing them is a bug here, not the client's mistake.
		a.log.WarnContext(ctx, "rest: GraphQL refused an operation", "errors", errs.Error())
		resp = a.exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
	} else {
		responses, rctx := a.exec.DispatchOperation(ctx, oc)
		resp = responses(rctx)
	}
	if resp == nil {
		return nil, fmt.Errorf("rest: GraphQL returned no response")
	}
	if len(resp.Errors) > 0 {
		return nil, &graphQLError{graph.DomainError(resp.Errors[0])}
	}
	return resp.Data, nil
}
