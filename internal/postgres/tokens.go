package postgres

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// TokenService implements assistloop.TokenService.
type TokenService struct{ db *DB }

// NewTokenService returns the token service over db.
func NewTokenService(db *DB) *TokenService { return &TokenService{db: db} }

var _ assistloop.TokenService = (*TokenService)(nil)

// CreateAccessToken stores a new token for a user. Only its hash is kept.
func (s *TokenService) CreateAccessToken(ctx context.Context, in assistloop.CreateAccessTokenInput) (string, *assistloop.AccessToken, error) {
	if len(in.Scopes) == 0 {
		return "", nil, assistloop.InvalidField("scope", "At least one scope is required.")
	}
	secret := auth.NewSecret(auth.AccessTokenPrefix)
	t := &assistloop.AccessToken{
		ID:        assistloop.NewID(assistloop.PrefixToken),
		TokenHash: auth.HashSecret(secret),
		UserID:    in.UserID,
		ClientID:  in.ClientID,
		GrantID:   in.GrantID,
		Scopes:    in.Scopes,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if in.TTL > 0 {
		exp := t.CreatedAt.Add(in.TTL)
		t.ExpiresAt = &exp
	}
	if _, err := s.db.bun.NewInsert().Model(t).Exec(ctx); err != nil {
		if pgCode(err) == pgForeignKeyViolation {
			return "", nil, assistloop.NotFound("User")
		}
		return "", nil, wrap("create access token", err)
	}
	return secret, t, nil
}

// AuthenticateToken returns the principal of a live token.
func (s *TokenService) AuthenticateToken(ctx context.Context, token string) (*assistloop.Principal, error) {
	// Reject obviously foreign strings before touching the database.
	if len(token) > 256 {
		return nil, assistloop.Unauthorized()
	}
	t := new(assistloop.AccessToken)
	err := s.db.bun.NewSelect().Model(t).
		Where("token_hash = ?", auth.HashSecret(token)).
		Where("revoked_at IS NULL").
		Where("expires_at IS NULL OR expires_at > now()").
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, assistloop.Unauthorized()
	} else if err != nil {
		return nil, wrap("authenticate token", err)
	}
	p := &assistloop.Principal{UserID: t.UserID, TokenID: t.ID, Scopes: t.Scopes}
	if t.ClientID != nil {
		p.ClientID = *t.ClientID
	}
	return p, nil
}

// ClientService implements assistloop.ClientService.
type ClientService struct{ db *DB }

// NewClientService returns the OAuth client service over db.
func NewClientService(db *DB) *ClientService { return &ClientService{db: db} }

var _ assistloop.ClientService = (*ClientService)(nil)

// CreateClient registers an OAuth client.
func (s *ClientService) CreateClient(ctx context.Context, in assistloop.CreateClientInput) (*assistloop.OAuthClient, string, error) {
	if err := validateClient(in); err != nil {
		return nil, "", err
	}
	scopes := in.Scopes
	if len(scopes) == 0 {
		scopes = assistloop.AllScopes
	}
	id := in.ID
	if id == "" {
		id = "cli_" + assistloop.RandomString(24)
	}
	c := &clientRow{OAuthClient: assistloop.OAuthClient{
		ID:           id,
		Name:         strings.TrimSpace(in.Name),
		RedirectURIs: in.RedirectURIs,
		Scopes:       scopes,
		Public:       in.Public,
		CreatedAt:    time.Now().UTC().Truncate(time.Microsecond),
	}}
	var secret string
	if !in.Public {
		secret = auth.NewSecret(auth.ClientSecretPrefix)
		h := auth.HashSecretString(secret)
		c.SecretHash = &h
	}
	_, err := s.db.bun.NewInsert().Model(c).
		On("CONFLICT (id) DO UPDATE").
		Set("name = EXCLUDED.name, secret_hash = EXCLUDED.secret_hash, redirect_uris = EXCLUDED.redirect_uris").
		Set("scopes = EXCLUDED.scopes, public = EXCLUDED.public").
		Returning("created_at").Exec(ctx)
	if err != nil {
		return nil, "", wrap("create client", err)
	}
	return &c.OAuthClient, secret, nil
}

// clientRow maps OAuthClient to its table (whose name bun would not derive
// from the type's).
type clientRow struct {
	bun.BaseModel `bun:"table:oauth_clients,alias:client"`
	assistloop.OAuthClient
}

func validateClient(in assistloop.CreateClientInput) error {
	v := assistloop.Invalid()
	if strings.TrimSpace(in.Name) == "" {
		v.Add("name", "The name field is required.")
	}
	if len(in.RedirectURIs) == 0 {
		v.Add("redirect_uri", "At least one redirect URI is required.")
	}
	for _, raw := range in.RedirectURIs {
		if problem := checkRedirectURI(raw); problem != "" {
			v.Add("redirect_uri", raw+": "+problem)
		}
	}
	for _, sc := range in.Scopes {
		if !slices.Contains(assistloop.AllScopes, sc) {
			v.Add("scope", "Unknown scope "+string(sc)+".")
		}
	}
	return v.Err()
}

// checkRedirectURI applies RFC 6749 §3.1.2 and RFC 9700 §2.1: an absolute
// URI without a fragment, HTTPS except for loopback development hosts.
func checkRedirectURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a fragment"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return "must use https (http is allowed for loopback hosts only)"
		}
	default:
		return "must use https"
	}
	return ""
}
