// Package oauth is the service's OAuth 2.0 authorization server, the one
// Make connects with: the authorization-code grant with a login and consent
// page, the token endpoint (authorization_code and refresh_token grants),
// revocation (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414).
//
// It adapts github.com/go-oauth2/oauth2/v4 (server.Server and
// manage.Manager) with stores backed by the domain's OAuthService, and
// hardens the library's defaults as RFC 9700 asks:
//
//   - redirect URIs match a registered URI exactly (the library matches a
//     host suffix);
//   - PKCE supports S256 only, is required for public clients and is
//     enforced whenever a challenge was sent;
//   - authorization codes are single-use, bound to client, redirect URI and
//     challenge, live ten minutes; redeeming one twice revokes its tokens;
//   - refresh tokens are bound to their client and rotate on every use;
//     presenting a rotated one revokes the whole grant;
//   - only the authorization_code and refresh_token grants exist;
//   - codes, tokens and client secrets are stored as hashes and never
//     logged.
//
// Access tokens live in the same table as every other bearer token, so the
// REST and GraphQL middleware authenticate them like any other.
package oauth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Routes the server answers.
const (
	AuthorizePath      = "/v1/oauth/authorize"
	AuthorizePathAPI   = "/api/v1/oauth/authorize"
	TokenPath          = "/oauth/token"
	RevokePath         = "/oauth/revoke"
	IntrospectPath     = "/oauth/introspect"
	MetadataPath       = "/.well-known/oauth-authorization-server"
	maxRequestBodySize = 64 << 10
)

// Options configure the server.
type Options struct {
	// Users signs people in on the consent page.
	Users assistloop.UserService
	// OAuth stores grants, codes and refresh tokens.
	OAuth assistloop.OAuthService
	// Issuer is the service's public base URL (PUBLIC_URL): the RFC 8414
	// issuer identifier and the base of the metadata's endpoint URLs.
	Issuer string
	Log    *slog.Logger

	// CodeTTL is an authorization code's life; at most (and by default)
	// ten minutes.
	CodeTTL time.Duration
	// LoginLimits bound failed sign-ins; zero fields take the defaults.
	LoginLimits LoginLimits
}

// Server is the authorization server. Create it with New.
type Server struct {
	users  assistloop.UserService
	oauth  assistloop.OAuthService
	issuer string
	log    *slog.Logger

	lib    *server.Server
	logins *loginLimiter
}

// New builds the authorization server.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.CodeTTL <= 0 || opts.CodeTTL > assistloop.MaxAuthorizationCodeTTL {
		opts.CodeTTL = assistloop.MaxAuthorizationCodeTTL
	}
	s := &Server{
		users: opts.Users, oauth: opts.OAuth, issuer: strings.TrimRight(opts.Issuer, "/"), log: opts.Log,
		logins: newLoginLimiter(opts.LoginLimits),
	}

	m := manage.NewManager()
	m.SetAuthorizeCodeExp(opts.CodeTTL)
	m.SetAuthorizeCodeTokenCfg(&manage.Config{
		AccessTokenExp: assistloop.OAuthAccessTokenTTL, RefreshTokenExp: assistloop.OAuthRefreshTokenTTL, IsGenerateRefresh: true,
	})
	// Rotation: every refresh issues a new refresh token valid for the
	// full period again. The library's own removal calls stay off: the
	// store's Create rotates and revokes in one transaction.
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{
		AccessTokenExp: assistloop.OAuthAccessTokenTTL, RefreshTokenExp: assistloop.OAuthRefreshTokenTTL,
		IsGenerateRefresh: true, IsResetRefreshTime: true,
	})
	m.SetValidateURIHandler(exactRedirectURI)
	m.MapAuthorizeGenerate(secrets{})
	m.MapAccessGenerate(tokenSecrets{})
	m.MapClientStorage(clientStore{opts.OAuth})
	m.MapTokenStorage(tokenStore{opts.OAuth})

	lib := server.NewServer(&server.Config{
		TokenType:                   "Bearer",
		AllowedResponseTypes:        []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:           []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing},
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256},
	}, m)
	// The token endpoint authenticates the client before the library runs
	// (Basic or body, never both); the library reads the result here.
	lib.ClientInfoHandler = func(r *http.Request) (string, string, error) {
		c := clientFrom(r.Context())
		if c == nil {
			return "", "", oerrors.ErrInvalidClient
		}
		return c.ID, c.secret, nil
	}
	lib.ClientAuthorizedHandler = func(_ string, gt oauth2.GrantType) (bool, error) {
		return gt == oauth2.AuthorizationCode || gt == oauth2.Refreshing, nil
	}
	lib.RefreshingScopeHandler = narrowOnRefresh
	lib.InternalErrorHandler = s.internalError
	lib.ResponseErrorHandler = func(re *oerrors.Response) {
		if re.Error != nil {
			re.StatusCode = statusFor(re.Error.Error())
		}
	}
	// Sign-in happens on the consent page; the library's own hooks for it
	// stay closed.
	lib.UserAuthorizationHandler = func(http.ResponseWriter, *http.Request) (string, error) {
		return "", oerrors.ErrAccessDenied
	}
	s.lib = lib
	return s
}

// Mount serves the authorization server's routes on r.
func Mount(r chi.Router, opts Options) {
	New(opts).Routes(r)
}

// Routes registers the server's routes on r.
func (s *Server) Routes(r chi.Router) {
	for _, p := range []string{AuthorizePath, AuthorizePathAPI} {
		r.Get(p, s.authorize)
		r.Post(p, s.authorize)
	}
	r.Post(TokenPath, s.token)
	r.Post(RevokePath, s.revoke)
	r.Post(IntrospectPath, s.introspect)
	r.Get(MetadataPath, s.metadata)
}

// narrowOnRefresh lets a refresh ask for fewer scopes than the refresh
// token carries, never more (RFC 6749 §6). It rewrites the requested scope
// to canonical names, resolving aliases.
func narrowOnRefresh(tgr *oauth2.TokenGenerateRequest, old string) (bool, error) {
	requested, unknown := assistloop.ParseScopes(tgr.Scope)
	if len(unknown) > 0 {
		return false, errInvalidScope("Unknown scope " + quoteParam(unknown[0]) + ".")
	}
	had, _ := assistloop.ParseScopes(old)
	if len(requested) == 0 || !assistloop.ScopesWithin(requested, had) {
		return false, errInvalidScope("A refresh cannot widen the scope of the token.")
	}
	tgr.Scope = assistloop.FormatScopes(requested)
	return true, nil
}

// internalError turns errors the library does not know into RFC 6749
// responses: the store's and the hardening's own errors keep their code,
// anything else is logged once and answered as server_error.
func (s *Server) internalError(err error) *oerrors.Response {
	e := libraryError(err)
	if e == nil {
		s.log.Error("oauth token endpoint failed", "err", err)
		e = errServer()
	}
	return &oerrors.Response{Error: oerrors.New(e.Code), Description: e.Description, StatusCode: e.Status}
}

// metadata serves RFC 8414 authorization server metadata.
func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	scopes := make([]string, len(assistloop.AllScopes))
	for i, sc := range assistloop.AllScopes {
		scopes[i] = string(sc)
	}
	clientAuth := []string{"client_secret_basic", "client_secret_post", "none"}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	body := map[string]any{
		"issuer":                                         s.issuer,
		"authorization_endpoint":                         s.issuer + AuthorizePath,
		"token_endpoint":                                 s.issuer + TokenPath,
		"revocation_endpoint":                            s.issuer + RevokePath,
		"introspection_endpoint":                         s.issuer + IntrospectPath,
		"scopes_supported":                               scopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported":          clientAuth,
		"revocation_endpoint_auth_methods_supported":     clientAuth,
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":               []string{assistloop.CodeChallengeS256},
		"authorization_response_iss_parameter_supported": true,
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}
