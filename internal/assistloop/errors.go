package assistloop

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. Every error the domain returns carries one of them; the
// transports translate a code to an HTTP status (rest/) or to a GraphQL
// extensions.code (graph/) in exactly one place each.
const (
	ECONFLICT     = "conflict"     // the change conflicts with the current state
	EFORBIDDEN    = "forbidden"    // authenticated, but the token lacks a scope
	EINTERNAL     = "internal"     // a bug or an unavailable dependency; never shown
	EINVALID      = "invalid"      // bad input; Fields says which and why
	ENOTFOUND     = "not_found"    // missing, or outside the caller's workspaces
	ERATELIMITED  = "rate_limited" // too many requests
	ETOOLARGE     = "too_large"    // a body or upload above its limit
	EUNAUTHORIZED = "unauthorized" // no valid credentials
	EUNSUPPORTED  = "unsupported"  // a media type the service does not accept
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later
)

// Error is the domain's error value. Title is a short human title
// ("Conversation not found"), Message a full sentence safe to show to a
// client, Fields the per-field problems of an EINVALID error.
type Error struct {
	Code    string
	Title   string
	Message string
	Fields  map[string][]string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(e.Fields[k], "; "))
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(parts, ", "))
}

// Errorf returns an error with the given code and a formatted message. The
// title defaults to the code's generic title.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Title: DefaultTitle(code), Message: fmt.Sprintf(format, args...)}
}

// NotFound is the error for an object that does not exist or belongs to a
// workspace the caller is not a member of; the two cases are
// indistinguishable on purpose.
func NotFound(kind string) *Error {
	lower := strings.ToLower(kind)
	return &Error{
		Code:    ENOTFOUND,
		Title:   kind + " not found",
		Message: fmt.Sprintf("The requested %s could not be found or you don't have access to it.", lower),
	}
}

// Forbidden is the error for a token that lacks the named scope.
func Forbidden(scope Scope) *Error {
	return &Error{
		Code:    EFORBIDDEN,
		Title:   "Forbidden",
		Message: fmt.Sprintf("The access token does not have the %q scope required for this request.", scope),
	}
}

// Unauthorized is the error for a request without valid credentials.
func Unauthorized() *Error {
	return &Error{
		Code:    EUNAUTHORIZED,
		Title:   "Unauthenticated",
		Message: "No valid access token was provided.",
	}
}

// Invalid starts an empty validation error; add problems with Add and
// return it with Err.
func Invalid() *Error {
	return &Error{Code: EINVALID, Title: "Validation error", Message: "The given data was invalid.", Fields: map[string][]string{}}
}

// Add records one problem with a field.
func (e *Error) Add(field, problem string) *Error {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	e.Fields[field] = append(e.Fields[field], problem)
	return e
}

// Err returns e as an error when it holds at least one problem, else nil.
func (e *Error) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	// The message names the first problem, like most validation APIs do.
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.Message = e.Fields[keys[0]][0]
	if n := len(keys) - 1; n > 0 {
		e.Message += fmt.Sprintf(" (and %d more error", n)
		if n > 1 {
			e.Message += "s"
		}
		e.Message += ")"
	}
	return e
}

// InvalidField is a shortcut for a validation error on one field.
func InvalidField(field, problem string) error {
	return Invalid().Add(field, problem).Err()
}

// DefaultTitle is the short title used for a code when none is given.
func DefaultTitle(code string) string {
	switch code {
	case ECONFLICT:
		return "Conflict"
	case EFORBIDDEN:
		return "Forbidden"
	case EINVALID:
		return "Validation error"
	case ENOTFOUND:
		return "Not found"
	case ERATELIMITED:
		return "Too many requests"
	case ETOOLARGE:
		return "Payload too large"
	case EUNAUTHORIZED:
		return "Unauthenticated"
	case EUNSUPPORTED:
		return "Unsupported media type"
	case EUNAVAILABLE:
		return "Service unavailable"
	default:
		return "Internal server error"
	}
}

// ErrorCode returns the code of a domain error, or EINTERNAL for any other
// error (and "" for nil).
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorOf returns the domain error inside err. Errors that are not domain
// errors become a generic internal error whose text reveals nothing.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Title == "" {
			c := *e
			c.Title = DefaultTitle(e.Code)
			return &c
		}
		return e
	}
	return &Error{Code: EINTERNAL, Title: DefaultTitle(EINTERNAL), Message: "Something went wrong on our end. Please try again later."}
}
