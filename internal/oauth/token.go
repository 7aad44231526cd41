package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Body media types the endpoints accept.
const (
	mediaForm = "application/x-www-form-urlencoded"
	mediaJSON = "application/json"
)

// readBody reads a POST body that is either form-encoded or a JSON object
// of strings (Make's "Token Request Method: POST (JSON)"), and reports
// which it was. Query-string parameters are ignored: RFC 6749 §3.2 puts
// the token request in the body, and credentials never belong in a URL.
// A parameter given twice is an error (RFC 6749 §3.1).
func readBody(w http.ResponseWriter, r *http.Request) (url.Values, bool, *Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	body := http.MaxBytesReader(w, r.Body, maxRequestBodySize)
	switch mt {
	case mediaForm:
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, false, errInvalidRequest("The request body is too large or unreadable.")
		}
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, false, errInvalidRequest("The request body is not valid form encoding.")
		}
		for k, v := range form {
			if len(v) > 1 {
				return nil, false, errInvalidRequest("The parameter " + quoteParam(k) + " is given more than once.")
			}
		}
		return form, false, nil
	case mediaJSON:
		dec := json.NewDecoder(body)
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return nil, true, errInvalidRequest("The request body must be a JSON object.")
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, true, errInvalidRequest("The request body must hold a single JSON object.")
		}
		form := url.Values{}
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				form.Set(k, v)
			case nil:
			default:
				return nil, true, errInvalidRequest("The parameter " + quoteParam(k) + " must be a string.")
			}
		}
		return form, true, nil
	}
	return nil, false, errInvalidRequest("The request body must be application/x-www-form-urlencoded or application/json.")
}

// authenticateClient authenticates the client of a token, revocation or
// introspection request (RFC 6749 §2.3): HTTP Basic with the form-encoded
// id and secret, or client_id and client_secret in the body, never both.
// A public client sends its client_id alone.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (*authenticatedClient, *Error) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		if secret != "" {
			return nil, errInvalidRequest("The client authenticated in more than one way.")
		}
		basicID, err1 := url.QueryUnescape(user)
		basicSecret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, errInvalidClient("The Basic credentials are not form-encoded.")
		}
		if id != "" && id != basicID {
			return nil, errInvalidRequest("The client_id differs from the authenticated client.")
		}
		id, secret = basicID, basicSecret
	} else if r.Header.Get("Authorization") != "" {
		return nil, errInvalidClient("Unsupported client authentication scheme.")
	}
	if id == "" {
		return nil, errInvalidClient("Client authentication is required.")
	}
	c, err := s.oauth.FindClient(r.Context(), id)
	switch assistloop.ErrorCode(err) {
	case "":
	case assistloop.ENOTFOUND:
		return nil, errInvalidClient("Client authentication failed.")
	default:
		s.log.ErrorContext(r.Context(), "oauth client lookup failed", "err", err)
		return nil, errServer()
	}
	if !(client{c}).VerifyPassword(secret) {
		return nil, errInvalidClient("Client authentication failed.")
	}
	return &authenticatedClient{OAuthClient: c, secret: secret}, nil
}

// token is the token endpoint (RFC 6749 §3.2): it reads the body (form or
// JSON), authenticates the client and refuses every grant but
// authorization_code and refresh_token, then lets the library run the
// grant against the stores.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, _, e := readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		if form.Get("code") == "" {
			writeError(w, errInvalidRequest("The code parameter is required."))
			return
		}
	case "refresh_token":
		if form.Get("refresh_token") == "" {
			writeError(w, errInvalidRequest("The refresh_token parameter is required."))
			return
		}
	case "":
		writeError(w, errInvalidRequest("The grant_type parameter is required."))
		return
	default:
		writeError(w, &Error{Code: codeUnsupportedGrantType, Status: http.StatusBadRequest,
			Description: "Only the authorization_code and refresh_token grants are supported."})
		return
	}
	c, e := s.authenticateClient(r, form)
	if e != nil {
		writeError(w, e)
		return
	}
	if form.Get("grant_type") == "authorization_code" && form.Get("redirect_uri") == "" {
		// RFC 6749 §4.1.3 requires redirect_uri only when the authorization
		// request carried it, which it may omit for a client with a single
		// registered URI; the code is bound to that URI either way.
		if len(c.RedirectURIs) != 1 {
			writeError(w, errInvalidRequest("The redirect_uri parameter is required."))
			return
		}
		form.Set("redirect_uri", c.RedirectURIs[0])
	}

	// The library reads the parameters through r.FormValue: hand it the
	// parsed body as a form, whichever encoding it came in.
	lr := r.Clone(withClient(r.Context(), c))
	lr.Header.Set("Content-Type", mediaForm)
	lr.Header.Del("Authorization")
	lr.Body, lr.ContentLength = http.NoBody, 0
	lr.Form, lr.PostForm = form, form
	if err := s.lib.HandleTokenRequest(w, lr); err != nil {
		s.log.ErrorContext(r.Context(), "oauth token response failed", "err", err)
	}
}

// revoke is the revocation endpoint (RFC 7009). It answers 200 whether or
// not the token was known, so it reveals nothing about other clients'
// tokens.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, _, e := readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	c, e := s.authenticateClient(r, form)
	if e != nil {
		writeError(w, e)
		return
	}
	token := form.Get("token")
	if token == "" {
		writeError(w, errInvalidRequest("The token parameter is required."))
		return
	}
	if err := s.oauth.RevokeToken(r.Context(), c.ID, token, form.Get("token_type_hint")); err != nil {
		s.log.ErrorContext(r.Context(), "oauth revocation failed", "err", err)
		writeError(w, errServer())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// introspect is the introspection endpoint (RFC 7662). Only confidential
// clients may call it, and only about their own tokens; every other token
// is inactive, answered exactly as {"active": false}.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	form, _, e := readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	c, e := s.authenticateClient(r, form)
	if e != nil {
		writeError(w, e)
		return
	}
	if c.Public {
		writeError(w, errInvalidClient("Public clients cannot introspect tokens."))
		return
	}
	token := form.Get("token")
	if token == "" {
		writeError(w, errInvalidRequest("The token parameter is required."))
		return
	}
	ti, err := s.oauth.IntrospectToken(r.Context(), c.ID, token, form.Get("token_type_hint"))
	if err != nil {
		s.log.ErrorContext(r.Context(), "oauth introspection failed", "err", err)
		writeError(w, errServer())
		return
	}
	if !ti.Active {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	body := map[string]any{
		"active":    true,
		"scope":     assistloop.FormatScopes(ti.Scopes),
		"client_id": ti.ClientID,
		"username":  ti.Email,
		"sub":       ti.UserID,
		"iat":       ti.IssuedAt.Unix(),
		"iss":       s.issuer,
	}
	if ti.ExpiresAt != nil {
		body["exp"] = ti.ExpiresAt.Unix()
	}
	if ti.Kind == assistloop.TokenHintAccess {
		body["token_type"] = "Bearer"
	} else {
		body["token_type"] = "refresh_token"
	}
	writeJSON(w, http.StatusOK, body)
}

// quoteParam quotes a client-supplied name for an error message, cut short.
func quoteParam(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
