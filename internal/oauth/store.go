package oauth

import (
	"context"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/models"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// This file adapts go-oauth2's storage and generation interfaces to the
// domain's OAuthService. The library never sees the database: every call
// becomes one domain method, and the library's token model carries the
// domain identifiers it needs to pass between calls in its extension
// values.

// Extension keys on the library's token model.
const (
	extGrantID        = "assistloop.grant_id"
	extRefreshTokenID = "assistloop.refresh_token_id"
)

// client is a registered client as the library sees it.
type client struct{ c *assistloop.OAuthClient }

var (
	_ oauth2.ClientInfo             = client{}
	_ oauth2.ClientPasswordVerifier = client{}
)

func (c client) GetID() string { return c.c.ID }

// GetSecret never reveals anything: only the secret's hash is stored, and
// the library checks secrets through VerifyPassword.
func (c client) GetSecret() string { return "" }

// GetDomain returns the registered redirect URIs, one per line, for
// exactRedirectURI. The library's own use of it (a host-suffix match) is
// replaced.
func (c client) GetDomain() string { return strings.Join(c.c.RedirectURIs, "\n") }
func (c client) IsPublic() bool    { return c.c.Public }
func (c client) GetUserID() string { return "" }

// VerifyPassword checks a client secret against its stored hash in
// constant time. A public client has no secret and must present none.
func (c client) VerifyPassword(secret string) bool {
	if c.c.Public || c.c.SecretHash == nil {
		return c.c.Public && secret == ""
	}
	return secret != "" && auth.SecretMatches(secret, *c.c.SecretHash)
}

// exactRedirectURI replaces the library's default redirect URI check (the
// request's host merely ending with the registered host, which accepts
// evil-example.com for example.com) with exact string comparison against
// every registered URI (RFC 9700 §4.1.3).
func exactRedirectURI(registered, redirectURI string) error {
	for _, u := range strings.Split(registered, "\n") {
		if u != "" && u == redirectURI {
			return nil
		}
	}
	return oerrors.ErrInvalidRedirectURI
}

// clientStore implements oauth2.ClientStore.
type clientStore struct{ svc assistloop.OAuthService }

func (s clientStore) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	c, err := s.svc.FindClient(ctx, id)
	if assistloop.ErrorCode(err) == assistloop.ENOTFOUND {
		return nil, nil // the library answers invalid_client
	} else if err != nil {
		return nil, err
	}
	return client{c}, nil
}

// secrets implements the library's code and token generators with the
// service's prefixed 256-bit secrets (auth.NewSecret).
type secrets struct{}

func (secrets) Token(context.Context, *oauth2.GenerateBasic) (string, error) {
	return auth.NewSecret(auth.AuthCodePrefix), nil
}

type tokenSecrets struct{}

func (tokenSecrets) Token(_ context.Context, _ *oauth2.GenerateBasic, withRefresh bool) (string, string, error) {
	access := auth.NewSecret(auth.AccessTokenPrefix)
	if !withRefresh {
		return access, "", nil
	}
	return access, auth.NewSecret(auth.RefreshTokenPrefix), nil
}

// tokenStore implements oauth2.TokenStore on the domain service.
//
// The library drives the grant through it: Create stores a new code, the
// first tokens of a redeemed code, or the successor of a refresh token;
// GetByCode and RemoveByCode look up and consume a code; GetByRefresh
// finds a refresh token of the client authenticated for the request. The
// library's own removal calls are turned off (see New): rotation and
// revocation happen atomically inside Create.
type tokenStore struct{ svc assistloop.OAuthService }

var _ oauth2.TokenStore = tokenStore{}

func extension(ti oauth2.TokenInfo) func(string) string {
	if e, ok := ti.(oauth2.ExtendableTokenInfo); ok && e.GetExtension() != nil {
		return e.GetExtension().Get
	}
	return func(string) string { return "" }
}

func scopesOf(ti oauth2.TokenInfo) []assistloop.Scope {
	scopes, _ := assistloop.ParseScopes(ti.GetScope())
	return scopes
}

func (s tokenStore) Create(ctx context.Context, ti oauth2.TokenInfo) error {
	ext := extension(ti)
	switch {
	case ti.GetCode() != "" && ti.GetAccess() == "":
		_, err := s.svc.CreateAuthorizationCode(ctx, assistloop.CreateAuthorizationCodeInput{
			Code: ti.GetCode(), ClientID: ti.GetClientID(), UserID: ti.GetUserID(), RedirectURI: ti.GetRedirectURI(),
			Scopes: scopesOf(ti), CodeChallenge: ti.GetCodeChallenge(), CodeChallengeMethod: ti.GetCodeChallengeMethod().String(),
			TTL: ti.GetCodeExpiresIn(),
		})
		return err

	case ext(extRefreshTokenID) != "":
		_, err := s.svc.RotateRefreshToken(ctx, assistloop.RotateRefreshTokenInput{
			RefreshTokenID: ext(extRefreshTokenID), ClientID: ti.GetClientID(), Scopes: scopesOf(ti),
			AccessToken: ti.GetAccess(), AccessTTL: ti.GetAccessExpiresIn(),
			RefreshToken: ti.GetRefresh(), RefreshTTL: ti.GetRefreshExpiresIn(),
		})
		switch assistloop.ErrorCode(err) {
		case "":
			return nil
		case assistloop.ENOTFOUND, assistloop.ECONFLICT:
			return oerrors.ErrInvalidRefreshToken // invalid_grant
		case assistloop.EINVALID:
			return errInvalidScope("A refresh cannot widen the scope of the token.")
		}
		return err

	case ext(extGrantID) != "":
		_, err := s.svc.IssueTokens(ctx, assistloop.IssueTokensInput{
			GrantID: ext(extGrantID), ClientID: ti.GetClientID(), Scopes: scopesOf(ti),
			AccessToken: ti.GetAccess(), AccessTTL: ti.GetAccessExpiresIn(),
			RefreshToken: ti.GetRefresh(), RefreshTTL: ti.GetRefreshExpiresIn(),
		})
		switch assistloop.ErrorCode(err) {
		case "":
			return nil
		case assistloop.ENOTFOUND, assistloop.EINVALID:
			return oerrors.ErrInvalidAuthorizeCode // invalid_grant
		}
		return err
	}
	// Tokens without a grant would come from the implicit, password or
	// client-credentials grants, which are all disabled.
	return oerrors.ErrUnsupportedGrantType
}

// RemoveByCode consumes a code. Exactly one redemption succeeds; a second
// one revokes every token issued from the code.
func (s tokenStore) RemoveByCode(ctx context.Context, code string) error {
	err := s.svc.ConsumeAuthorizationCode(ctx, code)
	switch assistloop.ErrorCode(err) {
	case "":
		return nil
	case assistloop.ENOTFOUND, assistloop.ECONFLICT:
		return oerrors.ErrInvalidAuthorizeCode
	}
	return err
}

// RemoveByAccess and RemoveByRefresh are never needed: the manager is
// configured not to call them, and rotation revokes inside Create.
func (tokenStore) RemoveByAccess(context.Context, string) error  { return nil }
func (tokenStore) RemoveByRefresh(context.Context, string) error { return nil }

func (s tokenStore) GetByCode(ctx context.Context, code string) (oauth2.TokenInfo, error) {
	c, err := s.svc.FindAuthorizationCode(ctx, code)
	switch assistloop.ErrorCode(err) {
	case "":
	case assistloop.ENOTFOUND, assistloop.ECONFLICT:
		return nil, nil // the library answers invalid_grant
	default:
		return nil, err
	}
	ti := models.NewToken()
	ti.ClientID, ti.UserID, ti.RedirectURI = c.ClientID, c.UserID, c.RedirectURI
	ti.Scope = assistloop.FormatScopes(c.Scopes)
	ti.Code, ti.CodeCreateAt, ti.CodeExpiresIn = code, c.CreatedAt, c.ExpiresAt.Sub(c.CreatedAt)
	if c.CodeChallenge != nil && c.CodeChallengeMethod != nil {
		ti.CodeChallenge, ti.CodeChallengeMethod = *c.CodeChallenge, *c.CodeChallengeMethod
	}
	ti.Extension.Set(extGrantID, c.GrantID)
	return ti, nil
}

// GetByAccess is not used: access tokens are checked by TokenService,
// the same way on every route.
func (tokenStore) GetByAccess(context.Context, string) (oauth2.TokenInfo, error) { return nil, nil }

// GetByRefresh finds a refresh token of the client the token endpoint
// authenticated; another client's token is unknown here.
func (s tokenStore) GetByRefresh(ctx context.Context, refresh string) (oauth2.TokenInfo, error) {
	cl := clientFrom(ctx)
	if cl == nil {
		return nil, nil
	}
	rt, err := s.svc.FindRefreshToken(ctx, cl.ID, refresh)
	switch assistloop.ErrorCode(err) {
	case "":
	case assistloop.ENOTFOUND, assistloop.ECONFLICT:
		return nil, nil // the library answers invalid_grant
	default:
		return nil, err
	}
	ti := models.NewToken()
	ti.ClientID, ti.UserID = rt.ClientID, rt.UserID
	ti.Scope = assistloop.FormatScopes(rt.Scopes)
	ti.Refresh, ti.RefreshCreateAt, ti.RefreshExpiresIn = refresh, rt.CreatedAt, rt.ExpiresAt.Sub(rt.CreatedAt)
	ti.AccessCreateAt, ti.AccessExpiresIn = time.Now(), assistloop.OAuthAccessTokenTTL
	ti.Extension.Set(extGrantID, rt.GrantID)
	ti.Extension.Set(extRefreshTokenID, rt.ID)
	return ti, nil
}

type clientKey struct{}

// authenticatedClient is the client the token endpoint authenticated,
// with the secret it presented (the library checks it once more).
type authenticatedClient struct {
	*assistloop.OAuthClient
	secret string
}

func withClient(ctx context.Context, c *authenticatedClient) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(ctx context.Context) *authenticatedClient {
	c, _ := ctx.Value(clientKey{}).(*authenticatedClient)
	return c
}
