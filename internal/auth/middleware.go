package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Authenticator resolves a bearer token to a principal.
type Authenticator interface {
	AuthenticateToken(ctx context.Context, token string) (*assistloop.Principal, error)
}

// ErrorWriter writes an error response in the transport's own format.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// BearerToken extracts the token of an "Authorization: Bearer …" header
// value. ok is false when the value is empty or not a bearer credential.
func BearerToken(header string) (token string, ok bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Require authenticates every request by its bearer token and puts the
// principal in the request context. A request without a valid token gets
// 401 through onErr, with a WWW-Authenticate challenge (RFC 6750 §3).
func Require(a Authenticator, onErr ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			header := r.Header.Get("Authorization")
			token, ok := BearerToken(header)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="assistloop"`)
				onErr(w, r, assistloop.Unauthorized())
				return
			}
			p, err := a.AuthenticateToken(r.Context(), token)
			if err != nil {
				if assistloop.ErrorCode(err) == assistloop.EUNAUTHORIZED {
					w.Header().Set("WWW-Authenticate", `Bearer realm="assistloop", error="invalid_token"`)
				}
				onErr(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(assistloop.WithPrincipal(r.Context(), p)))
		})
	}
}
