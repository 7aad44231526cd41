package oauth

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/assistloop/assistloop/internal/assistloop"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// Limits on authorization request parameters.
const (
	maxStateLength    = 2048
	maxParamLength    = 4096
	maxEmailLength    = assistloop.MaxEmailLength
	maxPasswordLength = 1024
)

// authorizeParams are the OAuth parameters of an authorization request
// (RFC 6749 §4.1.1, RFC 7636 §4.3).
var authorizeParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "response_mode",
}

// scopeDescriptions are shown on the consent page, as the reference words
// them.
var scopeDescriptions = map[assistloop.Scope]string{
	assistloop.ScopeReadConversations:  "Read conversations and conversation details",
	assistloop.ScopeReadMessages:       "Read messages within conversations",
	assistloop.ScopeManageWebhooks:     "Create and manage webhook subscriptions",
	assistloop.ScopeWriteConversations: "Reply to conversations and update their status and response mode",
}

// authorizeRequest is a validated authorization request.
type authorizeRequest struct {
	client      *assistloop.OAuthClient
	redirectURI string
	state       string
	scopes      []assistloop.Scope
	challenge   string
	method      string
}

// pageError is an error shown on an error page instead of being sent to
// the redirect URI, because the redirect URI cannot be trusted (RFC 6749
// §4.1.2.1).
type pageError struct {
	status         int
	title, message string
}

// authorize serves GET (the login and consent page) and POST (sign-in and
// decision) of the authorization endpoint.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	params, creds, asJSON, pe := readAuthorizeInput(w, r)
	if pe != nil {
		s.errorPage(w, r, asJSON, pe)
		return
	}
	req, pe, oe := s.validateAuthorize(r, params)
	switch {
	case pe != nil:
		s.errorPage(w, r, asJSON, pe)
		return
	case oe != nil:
		s.redirectError(w, req, oe)
		return
	}
	if r.Method == http.MethodGet {
		s.consentPage(w, r, req, http.StatusOK, "", "")
		return
	}

	// JSON bodies cannot be sent cross-origin by a browser without a CORS
	// preflight, which this server never grants; form posts must carry
	// the double-submit token.
	if !asJSON && !s.checkCSRF(r, creds.Get("csrf_token")) {
		s.consentPage(w, r, req, http.StatusForbidden, "The form expired or did not come from this page. Please sign in again.", creds.Get("email"))
		return
	}
	if creds.Get("decision") == "deny" {
		s.redirectError(w, req, &Error{Code: codeAccessDenied, Description: "The user denied the request."})
		return
	}
	email, password := strings.TrimSpace(creds.Get("email")), creds.Get("password")
	user, err := s.signIn(r, email, password)
	if err != nil {
		e := assistloop.ErrorOf(err)
		switch e.Code {
		case assistloop.ERATELIMITED:
			retry := strconv.Itoa(s.logins.RetryAfter())
			w.Header().Set("Retry-After", retry)
			if asJSON {
				writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Too Many Attempts.", "retry_after": s.logins.RetryAfter()})
				return
			}
			s.consentPage(w, r, req, http.StatusTooManyRequests, "Too many failed sign-ins. Please try again later.", email)
		case assistloop.EUNAUTHORIZED, assistloop.EINVALID:
			if asJSON {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": e.Title, "message": e.Message})
				return
			}
			s.consentPage(w, r, req, http.StatusUnauthorized, e.Message, email)
		default:
			s.log.ErrorContext(r.Context(), "oauth sign-in failed", "err", err)
			s.errorPage(w, r, asJSON, &pageError{http.StatusInternalServerError, "Internal server error",
				"Something went wrong on our end. Please try again later."})
		}
		return
	}

	ti, err := s.lib.GetAuthorizeToken(r.Context(), &server.AuthorizeRequest{
		ResponseType: oauth2.Code, ClientID: req.client.ID, UserID: user.ID,
		RedirectURI: req.redirectURI, State: req.state, Scope: assistloop.FormatScopes(req.scopes),
		CodeChallenge: req.challenge, CodeChallengeMethod: oauth2.CodeChallengeMethod(req.method),
		Request: r,
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "oauth authorization code not issued", "err", err)
		s.redirectError(w, req, &Error{Code: codeServerError, Description: "The authorization server could not issue a code."})
		return
	}
	data := s.lib.GetAuthorizeData(oauth2.Code, ti)
	data["iss"] = s.issuer // RFC 9207: lets the client detect mix-up attacks
	s.redirect(w, req, data)
}

// readAuthorizeInput reads the OAuth parameters (from the query of a GET;
// from the body of a POST, form or JSON, or else its query) and, for a
// POST, the sign-in fields, which are read from the body only.
func readAuthorizeInput(w http.ResponseWriter, r *http.Request) (params, creds url.Values, asJSON bool, pe *pageError) {
	query := r.URL.Query()
	for _, k := range authorizeParams {
		if len(query[k]) > 1 {
			return nil, nil, wantsJSON(r), badRequest("The parameter " + quoteParam(k) + " is given more than once.")
		}
	}
	if r.Method == http.MethodGet {
		return query, url.Values{}, wantsJSON(r), nil
	}
	body, asJSON, e := readBody(w, r)
	if e != nil {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == mediaJSON {
			asJSON = true
		}
		return nil, nil, asJSON || wantsJSON(r), badRequest(e.Description)
	}
	params = url.Values{}
	for _, k := range authorizeParams {
		b, inBody := body[k]
		q, inQuery := query[k]
		switch {
		case inBody && inQuery && b[0] != q[0]:
			return nil, nil, asJSON, badRequest("The parameter " + quoteParam(k) + " differs between the query and the body.")
		case inBody:
			params[k] = b
		case inQuery:
			params[k] = q
		}
	}
	return params, body, asJSON, nil
}

func badRequest(message string) *pageError {
	return &pageError{http.StatusBadRequest, "Invalid authorization request", message}
}

// wantsJSON reports whether the client prefers JSON to HTML.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// validateAuthorize checks an authorization request. Problems with the
// client or the redirect URI come back as a pageError: the user must not
// be sent to an unverified URI. Every later problem is an *Error for the
// (now trusted) redirect URI.
func (s *Server) validateAuthorize(r *http.Request, v url.Values) (*authorizeRequest, *pageError, *Error) {
	for _, k := range authorizeParams {
		if len(v.Get(k)) > maxParamLength {
			return nil, badRequest("The parameter " + quoteParam(k) + " is too long."), nil
		}
	}
	clientID := v.Get("client_id")
	if clientID == "" {
		return nil, badRequest("The client_id parameter is required."), nil
	}
	c, err := s.oauth.FindClient(r.Context(), clientID)
	switch assistloop.ErrorCode(err) {
	case "":
	case assistloop.ENOTFOUND:
		return nil, &pageError{http.StatusBadRequest, "Unknown client", "No application is registered with this client_id."}, nil
	default:
		s.log.ErrorContext(r.Context(), "oauth client lookup failed", "err", err)
		return nil, &pageError{http.StatusInternalServerError, "Internal server error", "Something went wrong on our end. Please try again later."}, nil
	}
	redirectURI := v.Get("redirect_uri")
	if redirectURI == "" {
		// RFC 6749 §3.1.2.3: optional only when exactly one is registered.
		if len(c.RedirectURIs) != 1 {
			return nil, badRequest("The redirect_uri parameter is required for this client."), nil
		}
		redirectURI = c.RedirectURIs[0]
	} else if exactRedirectURI(client{c}.GetDomain(), redirectURI) != nil {
		return nil, &pageError{http.StatusBadRequest, "Invalid redirect URI",
			"The redirect_uri does not exactly match a redirect URI registered for this application."}, nil
	}

	req := &authorizeRequest{client: c, redirectURI: redirectURI, state: v.Get("state")}
	if len(req.state) > maxStateLength {
		req.state = ""
		return req, nil, errInvalidRequest("The state parameter is too long.")
	}
	switch rt := v.Get("response_type"); rt {
	case "code":
	case "":
		return req, nil, errInvalidRequest("The response_type parameter is required.")
	default:
		// "token" (the implicit grant) is disabled, as RFC 9700 §2.1.2 advises.
		return req, nil, &Error{Code: codeUnsupportedResponseType, Description: "Only the code response type is supported."}
	}
	if rm := v.Get("response_mode"); rm != "" && rm != "query" {
		return req, nil, errInvalidRequest("Only the query response mode is supported.")
	}
	scopes, err := assistloop.ResolveScopes(v.Get("scope"), c.Scopes)
	if err != nil {
		return req, nil, errInvalidScope(assistloop.ErrorOf(err).Message)
	}
	req.scopes = scopes

	cc, ccm := v.Get("code_challenge"), v.Get("code_challenge_method")
	switch {
	case cc == "" && ccm != "":
		return req, nil, errInvalidRequest("The code_challenge_method parameter was sent without a code_challenge.")
	case cc == "" && c.Public:
		return req, nil, errInvalidRequest("PKCE is required for public clients: send a code_challenge with code_challenge_method S256.")
	case cc != "" && ccm != assistloop.CodeChallengeS256:
		// An absent method means "plain" (RFC 7636 §4.3), which is refused.
		return req, nil, errInvalidRequest("The code_challenge_method must be S256; plain is not supported.")
	case cc != "" && !validS256Challenge(cc):
		return req, nil, errInvalidRequest("The code_challenge must be the unpadded base64url SHA-256 of the code verifier.")
	}
	req.challenge, req.method = cc, ccm
	if cc == "" {
		req.method = ""
	}
	return req, nil, nil
}

// validS256Challenge checks the shape of an S256 challenge: 32 bytes,
// base64url without padding (RFC 7636 §4.2).
func validS256Challenge(cc string) bool {
	b, err := base64.RawURLEncoding.DecodeString(cc)
	return err == nil && len(b) == 32
}

// redirect sends the user agent back to the client with data added to the
// redirect URI's query (and the state).
func (s *Server) redirect(w http.ResponseWriter, req *authorizeRequest, data map[string]any) {
	loc, err := s.lib.GetRedirectURI(&server.AuthorizeRequest{
		ResponseType: oauth2.Code, RedirectURI: req.redirectURI, State: req.state,
	}, data)
	if err != nil { // the URI was registered, so it parses
		s.log.Error("oauth redirect URI unusable", "client_id", req.client.ID, "err", err)
		http.Error(w, "invalid redirect URI", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

// redirectError sends an error to the client (RFC 6749 §4.1.2.1).
func (s *Server) redirectError(w http.ResponseWriter, req *authorizeRequest, e *Error) {
	s.redirect(w, req, map[string]any{"error": e.Code, "error_description": e.Description, "iss": s.issuer})
}

// signIn checks the user's credentials, refusing without a check when the
// account or the client address has failed too often.
func (s *Server) signIn(r *http.Request, email, password string) (*assistloop.User, error) {
	if email == "" || password == "" {
		return nil, &assistloop.Error{Code: assistloop.EINVALID, Title: "Invalid credentials", Message: "Enter your email and password."}
	}
	if s.logins.Blocked(r, email) {
		return nil, assistloop.Errorf(assistloop.ERATELIMITED, "Too many failed sign-ins.")
	}
	if len(email) > maxEmailLength || len(password) > maxPasswordLength {
		s.logins.Failed(r, email)
		return nil, &assistloop.Error{Code: assistloop.EUNAUTHORIZED, Title: "Invalid credentials", Message: "The email or password is incorrect."}
	}
	u, err := s.users.AuthenticateUser(r.Context(), email, password)
	if assistloop.ErrorCode(err) == assistloop.EUNAUTHORIZED {
		s.logins.Failed(r, email)
		s.log.InfoContext(r.Context(), "oauth sign-in failed", "remote", r.RemoteAddr)
	}
	return u, err
}

// The double-submit cookie: the page puts one random value in a cookie and
// in a hidden field; a cross-site form cannot read the cookie to copy it.
// Over HTTPS the __Host- prefix keeps sibling subdomains from planting one.
const (
	csrfCookie       = "assistloop_oauth_csrf"
	csrfCookieSecure = "__Host-assistloop_oauth_csrf"
	csrfMaxAge       = 3600
)

func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" || strings.HasPrefix(s.issuer, "https://")
}

func (s *Server) csrfCookieName(r *http.Request) string {
	if s.secure(r) {
		return csrfCookieSecure
	}
	return csrfCookie
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oauth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// csrfToken returns the request's token (reusing a well-formed cookie, so
// that several tabs work) and sets the cookie.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	token := ""
	if c, err := r.Cookie(s.csrfCookieName(r)); err == nil && len(c.Value) == 43 {
		token = c.Value
	} else {
		token = randomToken()
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.csrfCookieName(r), Value: token, Path: "/", MaxAge: csrfMaxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode,
	})
	return token
}

// checkCSRF accepts a form post from this server's own page: the
// browser's Fetch Metadata and Origin, when sent, must say same-origin,
// and the form's token must equal the cookie's.
func (s *Server) checkCSRF(r *http.Request, formToken string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		iss, _ := url.Parse(s.issuer)
		if u.Host != r.Host && (iss == nil || u.Host != iss.Host) {
			return false
		}
	}
	c, err := r.Cookie(s.csrfCookieName(r))
	if err != nil || len(c.Value) < 32 || len(formToken) != len(c.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(formToken)) == 1
}

type scopeView struct{ Name, Description string }

type hiddenField struct{ Name, Value string }

type consentView struct {
	Nonce        string
	ClientName   string
	RedirectHost string
	Scopes       []scopeView
	Action       string
	Hidden       []hiddenField
	Email        string
	Error        string
}

// consentPage renders the login and consent form.
func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, req *authorizeRequest, status int, message, email string) {
	target, _ := url.Parse(req.redirectURI)
	v := consentView{
		Nonce: randomToken(), ClientName: req.client.Name, RedirectHost: target.Host,
		Action: r.URL.Path, Email: email, Error: message,
	}
	for _, sc := range req.scopes {
		v.Scopes = append(v.Scopes, scopeView{string(sc), scopeDescriptions[sc]})
	}
	add := func(name, value string) {
		if value != "" {
			v.Hidden = append(v.Hidden, hiddenField{name, value})
		}
	}
	add("response_type", "code")
	add("client_id", req.client.ID)
	add("redirect_uri", req.redirectURI)
	add("scope", assistloop.FormatScopes(req.scopes))
	add("state", req.state)
	add("code_challenge", req.challenge)
	add("code_challenge_method", req.method)
	add("csrf_token", s.csrfToken(w, r))

	// The form posts here, and its success redirects to the client: both
	// origins are allowed form targets (browsers check redirects too).
	formAction := "'self'"
	if target.Scheme != "" && target.Host != "" {
		formAction += " " + target.Scheme + "://" + target.Host
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(s.logins.RetryAfter()))
	}
	renderPage(w, "authorize.html", status, v.Nonce, formAction, v)
}

type errorView struct {
	Nonce, Title, Message string
}

// errorPage answers a request that cannot be redirected back to the
// client: as JSON ({"error","message"}) for JSON callers, else as HTML.
func (s *Server) errorPage(w http.ResponseWriter, _ *http.Request, asJSON bool, pe *pageError) {
	if asJSON {
		writeJSON(w, pe.status, map[string]string{"error": pe.title, "message": pe.message})
		return
	}
	v := errorView{Nonce: randomToken(), Title: pe.title, Message: pe.message}
	renderPage(w, "error.html", pe.status, v.Nonce, "'none'", v)
}

// renderPage writes an HTML page with headers that keep it out of frames
// (clickjacking, RFC 6749 §10.13), caches and referrers, and a content
// security policy that allows nothing but its own inline style.
func renderPage(w http.ResponseWriter, name string, status int, nonce, formAction string, data any) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
