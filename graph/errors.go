package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Error codes in extensions.code, one per domain error code.
var extensionCodes = map[string]string{
	assistloop.EINVALID:      "BAD_USER_INPUT",
	assistloop.ENOTFOUND:     "NOT_FOUND",
	assistloop.EFORBIDDEN:    "FORBIDDEN",
	assistloop.EUNAUTHORIZED: "UNAUTHENTICATED",
	assistloop.ECONFLICT:     "CONFLICT",
	assistloop.ERATELIMITED:  "RATE_LIMITED",
	assistloop.ETOOLARGE:     "PAYLOAD_TOO_LARGE",
	assistloop.EUNSUPPORTED:  "UNSUPPORTED_MEDIA_TYPE",
	assistloop.EUNAVAILABLE:  "SERVICE_UNAVAILABLE",
	assistloop.EINTERNAL:     "INTERNAL_SERVER_ERROR",
}

// internalError marks an error a resolver returned that is not a domain
// error: a bug or a failed dependency. It is logged once, never shown.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

// markInternal is a field middleware that tags every non-domain error a
// resolver returns as internal. Errors gqlgen itself raises (bad arguments,
// unknown enum values) never pass through resolvers and so stay client
// errors.
func markInternal(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err == nil {
		return res, nil
	}
	var de *assistloop.Error
	var ge *gqlerror.Error
	if errors.As(err, &de) || errors.As(err, &ge) || errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, &internalError{err}
}

// presentError renders errors for clients: domain errors with their code,
// title and field problems; internal errors as a bare INTERNAL_SERVER_ERROR
// after logging them.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var de *assistloop.Error
		var ie *internalError
		switch {
		case errors.As(err, &de):
			gqlErr.Message = de.Message
			ext := map[string]any{"code": extensionCodes[de.Code], "title": assistloop.ErrorOf(de).Title}
			if len(de.Fields) > 0 {
				ext["fields"] = de.Fields
			}
			gqlErr.Extensions = ext
		case errors.As(err, &ie), errors.Is(err, context.Canceled):
			if !errors.Is(err, context.Canceled) {
				log.ErrorContext(ctx, "graphql resolver failed", "path", gqlErr.Path.String(), "err", ie.err)
			}
			internal := assistloop.ErrorOf(nil)
			gqlErr.Message = internal.Message
			gqlErr.Extensions = map[string]any{"code": extensionCodes[assistloop.EINTERNAL], "title": internal.Title}
		default:
			// gqlgen's own errors: parsing, validation, argument coercion.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = extensionCodes[assistloop.EINVALID]
			}
			if _, ok := gqlErr.Extensions["title"]; !ok {
				gqlErr.Extensions["title"] = assistloop.DefaultTitle(assistloop.EINVALID)
			}
		}
		return gqlErr
	}
}

// recoverPanic turns a resolver panic into an internal error, logging the
// stack once.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return &internalError{fmt.Errorf("panic: %v", v)}
	}
}

// DomainError rebuilds the domain error a GraphQL error presents, so an
// in-process caller (the REST adapter) can translate it like any other.
func DomainError(e *gqlerror.Error) *assistloop.Error {
	code, _ := e.Extensions["code"].(string)
	title, _ := e.Extensions["title"].(string)
	out := &assistloop.Error{Code: assistloop.EINTERNAL, Title: title, Message: e.Message}
	for dc, ec := range extensionCodes {
		if ec == code {
			out.Code = dc
		}
	}
	switch code {
	case "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED":
		out.Code = assistloop.EINVALID
	}
	if fields, ok := e.Extensions["fields"].(map[string][]string); ok {
		out.Fields = fields
	}
	if out.Title == "" {
		out.Title = assistloop.DefaultTitle(out.Code)
	}
	return out
}
