package rest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// codeBadRequest is the REST-only code of a request the transport cannot
// read at all (malformed JSON); it never leaves this package.
const codeBadRequest = "bad_request"

// statusOf is the one place domain error codes become HTTP statuses.
var statusOf = map[string]int{
	codeBadRequest:           http.StatusBadRequest,
	assistloop.EINVALID:      http.StatusUnprocessableEntity,
	assistloop.ENOTFOUND:     http.StatusNotFound,
	assistloop.EFORBIDDEN:    http.StatusForbidden,
	assistloop.EUNAUTHORIZED: http.StatusUnauthorized,
	assistloop.ECONFLICT:     http.StatusConflict,
	assistloop.ERATELIMITED:  http.StatusTooManyRequests,
	assistloop.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	assistloop.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	assistloop.EUNAVAILABLE:  http.StatusServiceUnavailable,
	assistloop.EINTERNAL:     http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for a domain error code.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every REST error:
// {"error": "<short title>", "message": "<sentence>"}, plus "errors" with
// the per-field problems of a 422.
type ErrorBody struct {
	Error   string              `json:"error"`
	Message string              `json:"message"`
	Errors  map[string][]string `json:"errors,omitempty"`
}

// WriteError writes err as a JSON error response. Internal errors are
// logged (once, here) and shown only as a generic message.
func WriteError(log *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		e := assistloop.ErrorOf(err)
		if e.Code == assistloop.EINTERNAL && log != nil {
			log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteErrorBody(w, StatusOf(e.Code), e)
	}
}

// WriteErrorBody writes a domain error with the given status.
func WriteErrorBody(w http.ResponseWriter, status int, e *assistloop.Error) {
	body := ErrorBody{Error: e.Title, Message: e.Message}
	if e.Code == assistloop.EINVALID {
		body.Errors = e.Fields
		if body.Errors == nil {
			body.Errors = map[string][]string{}
		}
	}
	WriteJSON(w, status, body)
}

// WriteJSON writes v as a JSON response with the given status. Strings are
// not HTML-escaped ("</body>" stays as written), like GraphQL responses.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the value with a newline
		buf.Reset()
		status = http.StatusInternalServerError
		buf.WriteString(`{"error":"Internal server error","message":"Something went wrong on our end. Please try again later."}` + "\n")
	}
	writeRaw(w, status, buf.Bytes())
}

// writeRaw writes an already encoded JSON body.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
