package assistloop

import (
	"context"
	"slices"
	"time"
)

// Identifier prefixes of the OAuth authorization server's records.
const (
	PrefixGrant        = "grt_"
	PrefixRefreshToken = "rft_"
)

// Lifetimes of what the OAuth authorization server issues.
const (
	// MaxAuthorizationCodeTTL bounds an authorization code's life (RFC 6749
	// §4.1.2 recommends ten minutes at most); the database enforces it too.
	MaxAuthorizationCodeTTL = 10 * time.Minute
	// OAuthAccessTokenTTL is the life of an access token issued by the
	// token endpoint (expires_in 3600).
	OAuthAccessTokenTTL = time.Hour
	// OAuthRefreshTokenTTL is the life of a refresh token; every use
	// replaces it with a new one valid this long again.
	OAuthRefreshTokenTTL = 30 * 24 * time.Hour
)

// CodeChallengeS256 is the only PKCE method the server accepts (RFC 7636
// §4.2; "plain" is refused, as RFC 9700 §2.1.1 advises).
const CodeChallengeS256 = "S256"

// OAuthGrant is one user's authorization of one client: the authorization
// code the user approved and every token descending from it. Revoking the
// grant revokes them all.
type OAuthGrant struct {
	ID           string     `bun:"id,pk"` // grt_…
	ClientID     string     `bun:"client_id"`
	UserID       string     `bun:"user_id"`
	Scopes       []Scope    `bun:"scopes,array"`
	CreatedAt    time.Time  `bun:"created_at"`
	RevokedAt    *time.Time `bun:"revoked_at"`
	RevokeReason *string    `bun:"revoke_reason"`
}

// AuthorizationCode is an issued authorization code. Only its hash is
// stored. It is bound to its client, redirect URI and PKCE challenge and is
// redeemed at most once.
type AuthorizationCode struct {
	CodeHash            []byte     `bun:"code_hash,pk" json:"-"`
	GrantID             string     `bun:"grant_id"`
	ClientID            string     `bun:"client_id"`
	UserID              string     `bun:"user_id"`
	RedirectURI         string     `bun:"redirect_uri"`
	Scopes              []Scope    `bun:"scopes,array"`
	CodeChallenge       *string    `bun:"code_challenge"`
	CodeChallengeMethod *string    `bun:"code_challenge_method"`
	CreatedAt           time.Time  `bun:"created_at"`
	ExpiresAt           time.Time  `bun:"expires_at"`
	ConsumedAt          *time.Time `bun:"consumed_at"`
}

// RefreshToken is an issued refresh token. Only its hash is stored. It is
// bound to its client and replaced by a new one on every use.
type RefreshToken struct {
	ID            string     `bun:"id,pk"` // rft_…
	TokenHash     []byte     `bun:"token_hash" json:"-"`
	GrantID       string     `bun:"grant_id"`
	ClientID      string     `bun:"client_id"`
	UserID        string     `bun:"user_id"`
	AccessTokenID *string    `bun:"access_token_id"` // the access token issued with it
	Scopes        []Scope    `bun:"scopes,array"`
	CreatedAt     time.Time  `bun:"created_at"`
	ExpiresAt     time.Time  `bun:"expires_at"`
	RotatedAt     *time.Time `bun:"rotated_at"`
	RevokedAt     *time.Time `bun:"revoked_at"`
}

// CreateAuthorizationCodeInput records the user's approval of a client's
// authorization request. Code is the secret value handed to the client;
// only its hash is stored.
type CreateAuthorizationCodeInput struct {
	Code                string
	ClientID            string
	UserID              string
	RedirectURI         string
	Scopes              []Scope
	CodeChallenge       string // empty: no PKCE
	CodeChallengeMethod string // CodeChallengeS256 when CodeChallenge is set
	TTL                 time.Duration
}

// Validate checks the input's fields.
func (in *CreateAuthorizationCodeInput) Validate() error {
	v := Invalid()
	if len(in.Code) < 32 {
		v.Add("code", "The code must be a high-entropy secret.")
	}
	if in.ClientID == "" {
		v.Add("client_id", "The client id field is required.")
	}
	if in.UserID == "" {
		v.Add("user_id", "The user id field is required.")
	}
	if in.RedirectURI == "" {
		v.Add("redirect_uri", "The redirect uri field is required.")
	}
	if len(in.Scopes) == 0 {
		v.Add("scope", "At least one scope is required.")
	}
	validateKnownScopes(v, in.Scopes)
	if (in.CodeChallenge == "") != (in.CodeChallengeMethod == "") {
		v.Add("code_challenge_method", "The code challenge and its method go together.")
	} else if in.CodeChallengeMethod != "" && in.CodeChallengeMethod != CodeChallengeS256 {
		v.Add("code_challenge_method", "The code challenge method must be S256.")
	}
	if in.TTL <= 0 || in.TTL > MaxAuthorizationCodeTTL {
		v.Add("ttl", "An authorization code lives at most ten minutes.")
	}
	return v.Err()
}

// IssueTokensInput stores the first access and refresh tokens of a grant,
// when its authorization code is redeemed. The token values are secrets
// handed to the client; only their hashes are stored.
type IssueTokensInput struct {
	GrantID      string
	ClientID     string
	Scopes       []Scope
	AccessToken  string
	AccessTTL    time.Duration
	RefreshToken string
	RefreshTTL   time.Duration
}

// RotateRefreshTokenInput replaces a refresh token with a new one and a new
// access token. Scopes may narrow the old token's scopes, never widen them;
// empty keeps them.
type RotateRefreshTokenInput struct {
	RefreshTokenID string
	ClientID       string
	Scopes         []Scope
	AccessToken    string
	AccessTTL      time.Duration
	RefreshToken   string
	RefreshTTL     time.Duration
}

// IssuedTokens are the records of a token response.
type IssuedTokens struct {
	Grant   *OAuthGrant
	Access  *AccessToken
	Refresh *RefreshToken
}

// Token type hints of RFC 7009 and RFC 7662.
const (
	TokenHintAccess  = "access_token"
	TokenHintRefresh = "refresh_token"
)

// TokenIntrospection describes a token (RFC 7662). An inactive token
// carries nothing but Active false.
type TokenIntrospection struct {
	Active    bool
	Kind      string // TokenHintAccess or TokenHintRefresh
	ClientID  string
	UserID    string
	Email     string
	Scopes    []Scope
	IssuedAt  time.Time
	ExpiresAt *time.Time
}

// OAuthService stores what the OAuth 2.0 authorization server issues:
// grants, authorization codes and refresh tokens (access tokens live with
// TokenService, so that every transport authenticates them alike). Its
// methods need no principal: they are how principals come to exist.
type OAuthService interface {
	// FindClient returns a registered client. Returns ENOTFOUND.
	FindClient(ctx context.Context, id string) (*OAuthClient, error)

	// CreateAuthorizationCode starts a grant with its authorization code.
	// Returns EINVALID, ENOTFOUND (client or user).
	CreateAuthorizationCode(ctx context.Context, in CreateAuthorizationCodeInput) (*AuthorizationCode, error)
	// FindAuthorizationCode returns an unexpired, unredeemed code. Returns
	// ENOTFOUND for an unknown or expired code; presenting a code that was
	// already redeemed revokes its grant and returns ECONFLICT.
	FindAuthorizationCode(ctx context.Context, code string) (*AuthorizationCode, error)
	// ConsumeAuthorizationCode marks the code redeemed. Of concurrent
	// calls for one code exactly one succeeds; every other revokes the grant
	// and returns ECONFLICT. ENOTFOUND for an unknown or expired code.
	ConsumeAuthorizationCode(ctx context.Context, code string) error
	// IssueTokens stores the first tokens of a grant. Tokens issued to a
	// grant revoked meanwhile are stored revoked. Returns ENOTFOUND (grant
	// of another client), EINVALID (scopes beyond the grant's).
	IssueTokens(ctx context.Context, in IssueTokensInput) (*IssuedTokens, error)

	// FindRefreshToken returns a live refresh token issued to the client.
	// Returns ENOTFOUND for an unknown, expired or revoked token and for a
	// token of another client; presenting a token that was already rotated
	// revokes its grant and returns ECONFLICT.
	FindRefreshToken(ctx context.Context, clientID, token string) (*RefreshToken, error)
	// RotateRefreshToken replaces a refresh token and revokes the access
	// token issued with it. Of concurrent calls for one token exactly one
	// succeeds; every other revokes the grant and returns ECONFLICT.
	// Returns ENOTFOUND (unknown, revoked, expired or another client's
	// token), EINVALID (widened scopes).
	RotateRefreshToken(ctx context.Context, in RotateRefreshTokenInput) (*IssuedTokens, error)

	// RevokeToken revokes a token issued to the client (RFC 7009): an
	// access token alone, a refresh token with its whole grant. Unknown
	// tokens and tokens of other clients are left alone without error.
	RevokeToken(ctx context.Context, clientID, token, hint string) error
	// IntrospectToken describes a token issued to the client (RFC 7662).
	// Unknown, expired and revoked tokens and tokens of other clients are
	// inactive.
	IntrospectToken(ctx context.Context, clientID, token, hint string) (*TokenIntrospection, error)
	// RevokeGrant revokes a grant and every token descending from it.
	// Revoking a revoked grant changes nothing. Returns ENOTFOUND.
	RevokeGrant(ctx context.Context, grantID, reason string) error
}

// ResolveScopes turns a requested scope string into the scopes to grant a
// client allowed the given scopes (RFC 6749 §3.3): aliases resolve to their
// scope, no scope at all means DefaultScopes (those of them the client may
// have), and a name that is unknown or that the client may not ask for is
// an EINVALID error naming it.
func ResolveScopes(requested string, allowed []Scope) ([]Scope, error) {
	scopes, unknown := ParseScopes(requested)
	if len(unknown) > 0 {
		return nil, InvalidField("scope", "Unknown scope "+quote(unknown[0])+".")
	}
	if len(scopes) == 0 {
		for _, sc := range DefaultScopes {
			if slices.Contains(allowed, sc) {
				scopes = append(scopes, sc)
			}
		}
		if len(scopes) == 0 {
			return nil, InvalidField("scope", "The client may not use the default scopes; request a scope explicitly.")
		}
		return scopes, nil
	}
	for _, sc := range scopes {
		if !slices.Contains(allowed, sc) {
			return nil, InvalidField("scope", "The client may not request the scope "+quote(string(sc))+".")
		}
	}
	return canonical(scopes), nil
}

// ScopesWithin reports whether every scope of sub is in super.
func ScopesWithin(sub, super []Scope) bool {
	for _, sc := range sub {
		if !slices.Contains(super, sc) {
			return false
		}
	}
	return true
}

// canonical orders scopes as AllScopes does.
func canonical(scopes []Scope) []Scope {
	out := make([]Scope, 0, len(scopes))
	for _, sc := range AllScopes {
		if slices.Contains(scopes, sc) {
			out = append(out, sc)
		}
	}
	return out
}

func validateKnownScopes(v *Error, scopes []Scope) {
	for _, sc := range scopes {
		if !slices.Contains(AllScopes, sc) {
			v.Add("scope", "Unknown scope "+quote(string(sc))+".")
		}
	}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
