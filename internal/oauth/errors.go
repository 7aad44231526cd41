package oauth

import (
	"encoding/json"
	"errors"
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// Error is an OAuth error response (RFC 6749 §4.1.2.1 and §5.2): an error
// code from the RFC's registry and a human-readable description.
type Error struct {
	Code        string
	Description string
	Status      int
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Error codes of RFC 6749, RFC 7009 and RFC 7662 the server uses.
const (
	codeInvalidRequest          = "invalid_request"
	codeInvalidClient           = "invalid_client"
	codeInvalidGrant            = "invalid_grant"
	codeUnsupportedGrantType    = "unsupported_grant_type"
	codeUnsupportedResponseType = "unsupported_response_type"
	codeInvalidScope            = "invalid_scope"
	codeAccessDenied            = "access_denied"
	codeServerError             = "server_error"
)

func errInvalidRequest(desc string) *Error {
	return &Error{Code: codeInvalidRequest, Description: desc, Status: http.StatusBadRequest}
}

func errInvalidClient(desc string) *Error {
	return &Error{Code: codeInvalidClient, Description: desc, Status: http.StatusUnauthorized}
}

func errInvalidGrant(desc string) *Error {
	return &Error{Code: codeInvalidGrant, Description: desc, Status: http.StatusBadRequest}
}

func errInvalidScope(desc string) *Error {
	return &Error{Code: codeInvalidScope, Description: desc, Status: http.StatusBadRequest}
}

func errServer() *Error {
	return &Error{Code: codeServerError, Description: "The authorization server encountered an unexpected condition.",
		Status: http.StatusInternalServerError}
}

// statusFor is RFC 6749 §5.2: 400 for every error but invalid_client (401)
// and the server's own failures. The library answers 401 for several of
// them; this corrects it.
func statusFor(code string) int {
	switch code {
	case codeInvalidClient:
		return http.StatusUnauthorized
	case codeServerError:
		return http.StatusInternalServerError
	case "temporarily_unavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// libraryError maps the library's internal errors, which it would
// otherwise answer as server_error, to their RFC 6749 meaning. It returns
// nil for errors it does not know.
func libraryError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, oerrors.ErrMissingCodeVerifier):
		return errInvalidGrant("The code_verifier is missing, or was sent for a code issued without a code_challenge.")
	case errors.Is(err, oerrors.ErrInvalidCodeChallenge), errors.Is(err, oerrors.ErrMissingCodeChallenge):
		return errInvalidGrant("The code_verifier does not match the code_challenge.")
	case errors.Is(err, oerrors.ErrInvalidRedirectURI):
		return errInvalidGrant("The redirect_uri does not match the one the code was issued to.")
	case errors.Is(err, oerrors.ErrInvalidAuthorizeCode):
		return errInvalidGrant("The authorization code is invalid, expired or already used.")
	case errors.Is(err, oerrors.ErrInvalidRefreshToken), errors.Is(err, oerrors.ErrExpiredRefreshToken):
		return errInvalidGrant("The refresh token is invalid, expired, revoked or was issued to another client.")
	}
	return nil
}

// writeError writes an RFC 6749 §5.2 error body. Token-endpoint responses
// are never cached.
func writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if e.Status == http.StatusUnauthorized {
		// RFC 6749 §5.2: a 401 names the authentication scheme.
		h.Set("WWW-Authenticate", `Basic realm="assistloop", charset="UTF-8"`)
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
