package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// OAuthService implements assistloop.OAuthService.
//
// Lock order: a method that changes a grant's codes or tokens locks the
// grant row first (SELECT … FOR UPDATE, or the UPDATE of a revocation), so
// an issuance and a revocation of one grant serialise and neither misses
// the other's rows.
type OAuthService struct{ db *DB }

// NewOAuthService returns the OAuth storage service over db.
func NewOAuthService(db *DB) *OAuthService { return &OAuthService{db: db} }

var _ assistloop.OAuthService = (*OAuthService)(nil)

type grantRow struct {
	bun.BaseModel `bun:"table:oauth_grants,alias:grant"`
	assistloop.OAuthGrant
}

type codeRow struct {
	bun.BaseModel `bun:"table:oauth_authorization_codes,alias:code"`
	assistloop.AuthorizationCode
	// Live is computed by the query against the database clock.
	Live bool `bun:"live,scanonly"`
}

type refreshRow struct {
	bun.BaseModel `bun:"table:oauth_refresh_tokens,alias:refresh"`
	assistloop.RefreshToken
	Live bool `bun:"live,scanonly"`
}

// Reasons recorded on a revoked grant.
const (
	reasonCodeReplayed   = "authorization code redeemed twice"
	reasonRefreshReused  = "rotated refresh token presented again"
	reasonRefreshRevoked = "refresh token revoked by the client"
)

// Housekeeping of expired codes, and the shape of the secrets the service
// accepts (anything else cannot be one of ours and is not looked up).
const (
	purgeCodesAfter      = "1 day"
	purgeCodesBatch      = 100
	minTokenSecretLength = 32
	maxTokenSecretLength = 256
)

// Kinds named in not-found errors.
const (
	notFoundCode         = "Authorization code"
	notFoundRefreshToken = "Refresh token"
	notFoundGrant        = "Grant"
	notFoundOAuthClient  = "Client"
)

// FindClient returns a registered client.
func (s *OAuthService) FindClient(ctx context.Context, id string) (*assistloop.OAuthClient, error) {
	if id == "" || len(id) > 255 {
		return nil, assistloop.NotFound(notFoundOAuthClient)
	}
	c := new(clientRow)
	if err := s.db.bun.NewSelect().Model(c).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, wrap("find client", notFound(notFoundOAuthClient, err))
	}
	return &c.OAuthClient, nil
}

// CreateAuthorizationCode starts a grant with its authorization code. It
// also purges a batch of codes that expired over a day ago, with the grants
// of those never redeemed (such grants hold no token).
func (s *OAuthService) CreateAuthorizationCode(ctx context.Context, in assistloop.CreateAuthorizationCodeInput) (*assistloop.AuthorizationCode, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var code *codeRow
	err := s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		g := &grantRow{OAuthGrant: assistloop.OAuthGrant{
			ID: assistloop.NewID(assistloop.PrefixGrant), ClientID: in.ClientID, UserID: in.UserID,
			Scopes: in.Scopes, CreatedAt: ts,
		}}
		if _, err := tx.NewInsert().Model(g).Exec(ctx); err != nil {
			if pgCode(err) == pgForeignKeyViolation {
				return assistloop.NotFound("User")
			}
			return err
		}
		code = &codeRow{AuthorizationCode: assistloop.AuthorizationCode{
			CodeHash: auth.HashSecret(in.Code), GrantID: g.ID, ClientID: in.ClientID, UserID: in.UserID,
			RedirectURI: in.RedirectURI, Scopes: in.Scopes, CreatedAt: ts, ExpiresAt: ts.Add(in.TTL),
		}}
		if in.CodeChallenge != "" {
			code.CodeChallenge, code.CodeChallengeMethod = &in.CodeChallenge, &in.CodeChallengeMethod
		}
		_, err = tx.NewInsert().Model(code).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, wrap("create authorization code", err)
	}
	s.purgeExpiredCodes(ctx)
	return &code.AuthorizationCode, nil
}

// purgeExpiredCodes deletes a bounded batch of long-expired codes. It is
// housekeeping: a failure is logged and otherwise ignored.
func (s *OAuthService) purgeExpiredCodes(ctx context.Context) {
	_, err := s.db.bun.NewRaw(`
		WITH dead AS (
			DELETE FROM oauth_authorization_codes
			WHERE code_hash IN (
				SELECT code_hash FROM oauth_authorization_codes
				WHERE expires_at < now() - ?::interval LIMIT ?)
			RETURNING grant_id, consumed_at)
		DELETE FROM oauth_grants WHERE id IN (SELECT grant_id FROM dead WHERE consumed_at IS NULL)`,
		purgeCodesAfter, purgeCodesBatch).Exec(ctx)
	if err != nil && ctx.Err() == nil {
		s.db.log.WarnContext(ctx, "purging expired authorization codes failed", "err", err)
	}
}

// findCode reads a code by its secret value, with whether it is still
// within its lifetime and its grant unrevoked.
func (s *OAuthService) findCode(ctx context.Context, idb bun.IDB, code string) (*codeRow, error) {
	if len(code) < minTokenSecretLength || len(code) > maxTokenSecretLength {
		return nil, assistloop.NotFound(notFoundCode)
	}
	row := new(codeRow)
	err := idb.NewSelect().Model(row).
		ColumnExpr("code.*").
		ColumnExpr(`(code.expires_at > clock_timestamp() AND
			NOT EXISTS (SELECT 1 FROM oauth_grants AS g WHERE g.id = code.grant_id AND g.revoked_at IS NOT NULL)) AS live`).
		Where("code.code_hash = ?", auth.HashSecret(code)).
		Scan(ctx)
	if err != nil {
		return nil, notFound(notFoundCode, err)
	}
	return row, nil
}

func codeReplayed() error {
	return &assistloop.Error{Code: assistloop.ECONFLICT, Title: "Authorization code replayed",
		Message: "The authorization code was already redeemed; every token issued from it has been revoked."}
}

// FindAuthorizationCode returns an unexpired, unredeemed code; a redeemed
// one revokes its grant.
func (s *OAuthService) FindAuthorizationCode(ctx context.Context, code string) (*assistloop.AuthorizationCode, error) {
	row, err := s.findCode(ctx, s.db.bun, code)
	if err != nil {
		return nil, wrap("find authorization code", err)
	}
	if row.ConsumedAt != nil {
		if err := s.RevokeGrant(ctx, row.GrantID, reasonCodeReplayed); err != nil {
			return nil, err
		}
		return nil, codeReplayed()
	}
	if !row.Live {
		return nil, assistloop.NotFound(notFoundCode)
	}
	return &row.AuthorizationCode, nil
}

// ConsumeAuthorizationCode marks the code redeemed, atomically: the UPDATE
// succeeds for exactly one caller.
func (s *OAuthService) ConsumeAuthorizationCode(ctx context.Context, code string) error {
	if len(code) < minTokenSecretLength || len(code) > maxTokenSecretLength {
		return assistloop.NotFound(notFoundCode)
	}
	res, err := s.db.bun.NewUpdate().Model((*codeRow)(nil)).
		Set("consumed_at = clock_timestamp()").
		Where("code_hash = ?", auth.HashSecret(code)).
		Where("consumed_at IS NULL").
		Where("expires_at > clock_timestamp()").
		Exec(ctx)
	if err != nil {
		return wrap("consume authorization code", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	row, err := s.findCode(ctx, s.db.bun, code)
	if err != nil {
		return wrap("consume authorization code", err)
	}
	if row.ConsumedAt == nil { // expired
		return assistloop.NotFound(notFoundCode)
	}
	if err := s.RevokeGrant(ctx, row.GrantID, reasonCodeReplayed); err != nil {
		return err
	}
	return codeReplayed()
}

func validateIssue(access, refresh string, accessTTL, refreshTTL time.Duration) error {
	v := assistloop.Invalid()
	if len(access) < minTokenSecretLength || len(access) > maxTokenSecretLength {
		v.Add("access_token", "The access token must be a high-entropy secret.")
	}
	if len(refresh) < minTokenSecretLength || len(refresh) > maxTokenSecretLength {
		v.Add("refresh_token", "The refresh token must be a high-entropy secret.")
	}
	if accessTTL <= 0 || refreshTTL <= 0 {
		v.Add("ttl", "Tokens issued through OAuth must expire.")
	}
	return v.Err()
}

// lockGrant reads a grant and locks its row until the transaction ends.
func lockGrant(ctx context.Context, tx bun.Tx, id string) (*grantRow, error) {
	g := new(grantRow)
	err := tx.NewSelect().Model(g).Where("id = ?", id).For("UPDATE").Scan(ctx)
	return g, notFound(notFoundGrant, err)
}

// insertTokens stores an access token and its refresh token for a grant;
// they are born revoked when the grant is.
func insertTokens(ctx context.Context, tx bun.Tx, g *grantRow, scopes []assistloop.Scope, ts time.Time,
	access string, accessTTL time.Duration, refresh string, refreshTTL time.Duration,
) (*assistloop.IssuedTokens, error) {
	accessExp := ts.Add(accessTTL)
	at := &assistloop.AccessToken{
		ID: assistloop.NewID(assistloop.PrefixToken), TokenHash: auth.HashSecret(access),
		UserID: g.UserID, ClientID: &g.ClientID, GrantID: &g.ID, Scopes: scopes,
		CreatedAt: ts, ExpiresAt: &accessExp, RevokedAt: g.RevokedAt,
	}
	if _, err := tx.NewInsert().Model(at).Exec(ctx); err != nil {
		return nil, err
	}
	rt := &refreshRow{RefreshToken: assistloop.RefreshToken{
		ID: assistloop.NewID(assistloop.PrefixRefreshToken), TokenHash: auth.HashSecret(refresh),
		GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID, AccessTokenID: &at.ID, Scopes: scopes,
		CreatedAt: ts, ExpiresAt: ts.Add(refreshTTL), RevokedAt: g.RevokedAt,
	}}
	if _, err := tx.NewInsert().Model(rt).Exec(ctx); err != nil {
		return nil, err
	}
	return &assistloop.IssuedTokens{Grant: &g.OAuthGrant, Access: at, Refresh: &rt.RefreshToken}, nil
}

// IssueTokens stores the first tokens of a grant.
func (s *OAuthService) IssueTokens(ctx context.Context, in assistloop.IssueTokensInput) (*assistloop.IssuedTokens, error) {
	if err := validateIssue(in.AccessToken, in.RefreshToken, in.AccessTTL, in.RefreshTTL); err != nil {
		return nil, err
	}
	var issued *assistloop.IssuedTokens
	err := s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		g, err := lockGrant(ctx, tx, in.GrantID)
		if err != nil {
			return err
		}
		if g.ClientID != in.ClientID {
			return assistloop.NotFound(notFoundGrant)
		}
		scopes := in.Scopes
		if len(scopes) == 0 {
			scopes = g.Scopes
		} else if !assistloop.ScopesWithin(scopes, g.Scopes) {
			return assistloop.InvalidField("scope", "The requested scope exceeds the scope the user granted.")
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		issued, err = insertTokens(ctx, tx, g, scopes, ts, in.AccessToken, in.AccessTTL, in.RefreshToken, in.RefreshTTL)
		return err
	})
	if err != nil {
		return nil, wrap("issue tokens", err)
	}
	return issued, nil
}

func refreshReused() error {
	return &assistloop.Error{Code: assistloop.ECONFLICT, Title: "Refresh token reused",
		Message: "The refresh token was already used; the grant and every token issued from it have been revoked."}
}

func selectRefresh(idb bun.IDB) *bun.SelectQuery {
	return idb.NewSelect().Model((*refreshRow)(nil)).
		ColumnExpr("refresh.*").
		ColumnExpr(`(refresh.expires_at > clock_timestamp() AND
			NOT EXISTS (SELECT 1 FROM oauth_grants AS g WHERE g.id = refresh.grant_id AND g.revoked_at IS NOT NULL)) AS live`)
}

// FindRefreshToken returns a live refresh token of the client.
func (s *OAuthService) FindRefreshToken(ctx context.Context, clientID, token string) (*assistloop.RefreshToken, error) {
	if len(token) < minTokenSecretLength || len(token) > maxTokenSecretLength {
		return nil, assistloop.NotFound(notFoundRefreshToken)
	}
	row := new(refreshRow)
	err := selectRefresh(s.db.bun).Where("refresh.token_hash = ?", auth.HashSecret(token)).Scan(ctx, row)
	if err != nil {
		return nil, wrap("find refresh token", notFound(notFoundRefreshToken, err))
	}
	switch {
	case row.ClientID != clientID:
		return nil, assistloop.NotFound(notFoundRefreshToken)
	case row.RotatedAt != nil:
		if err := s.RevokeGrant(ctx, row.GrantID, reasonRefreshReused); err != nil {
			return nil, err
		}
		return nil, refreshReused()
	case row.RevokedAt != nil || !row.Live:
		return nil, assistloop.NotFound(notFoundRefreshToken)
	}
	return &row.RefreshToken, nil
}

// RotateRefreshToken replaces a refresh token, exactly once.
func (s *OAuthService) RotateRefreshToken(ctx context.Context, in assistloop.RotateRefreshTokenInput) (*assistloop.IssuedTokens, error) {
	if err := validateIssue(in.AccessToken, in.RefreshToken, in.AccessTTL, in.RefreshTTL); err != nil {
		return nil, err
	}
	var (
		issued *assistloop.IssuedTokens
		reused bool
	)
	err := s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var grantID string
		err := tx.NewSelect().Model((*refreshRow)(nil)).Column("grant_id").Where("id = ?", in.RefreshTokenID).Scan(ctx, &grantID)
		if err != nil {
			return notFound(notFoundRefreshToken, err)
		}
		g, err := lockGrant(ctx, tx, grantID)
		if err != nil {
			return err
		}
		old := new(refreshRow)
		if err := selectRefresh(tx).Where("refresh.id = ?", in.RefreshTokenID).For("UPDATE OF refresh").Scan(ctx, old); err != nil {
			return notFound(notFoundRefreshToken, err)
		}
		switch {
		case old.ClientID != in.ClientID:
			return assistloop.NotFound(notFoundRefreshToken)
		case old.RotatedAt != nil:
			// Committed below together with the error the caller gets.
			reused = true
			return revokeGrant(ctx, tx, g.ID, reasonRefreshReused)
		case old.RevokedAt != nil || g.RevokedAt != nil || !old.Live:
			return assistloop.NotFound(notFoundRefreshToken)
		}
		scopes := in.Scopes
		if len(scopes) == 0 {
			scopes = old.Scopes
		} else if !assistloop.ScopesWithin(scopes, old.Scopes) {
			return assistloop.InvalidField("scope", "A refresh cannot widen the scope of the token.")
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		if issued, err = insertTokens(ctx, tx, g, scopes, ts, in.AccessToken, in.AccessTTL, in.RefreshToken, in.RefreshTTL); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*refreshRow)(nil)).Set("rotated_at = ?", ts).Where("id = ?", old.ID).Exec(ctx); err != nil {
			return err
		}
		if old.AccessTokenID != nil {
			_, err := tx.NewUpdate().Model((*assistloop.AccessToken)(nil)).Set("revoked_at = ?", ts).
				Where("id = ?", *old.AccessTokenID).Where("revoked_at IS NULL").Exec(ctx)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, wrap("rotate refresh token", err)
	}
	if reused {
		return nil, refreshReused()
	}
	return issued, nil
}

// revokeGrant revokes a grant and its tokens in tx. The grant's UPDATE
// takes its row lock first, as every writer does.
func revokeGrant(ctx context.Context, tx bun.Tx, grantID, reason string) error {
	res, err := tx.NewUpdate().Model((*grantRow)(nil)).
		Set("revoked_at = coalesce(revoked_at, clock_timestamp())").
		Set("revoke_reason = coalesce(revoke_reason, ?)", reason).
		Where("id = ?", grantID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return assistloop.NotFound(notFoundGrant)
	}
	if _, err := tx.NewUpdate().Model((*assistloop.AccessToken)(nil)).Set("revoked_at = clock_timestamp()").
		Where("grant_id = ?", grantID).Where("revoked_at IS NULL").Exec(ctx); err != nil {
		return err
	}
	_, err = tx.NewUpdate().Model((*refreshRow)(nil)).Set("revoked_at = clock_timestamp()").
		Where("grant_id = ?", grantID).Where("revoked_at IS NULL").Exec(ctx)
	return err
}

// RevokeGrant revokes a grant and every token descending from it.
func (s *OAuthService) RevokeGrant(ctx context.Context, grantID, reason string) error {
	err := s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return revokeGrant(ctx, tx, grantID, reason)
	})
	if err == nil {
		s.db.log.InfoContext(ctx, "oauth grant revoked", "grant_id", grantID, "reason", reason)
	}
	return wrap("revoke grant", err)
}

// RevokeToken revokes a token of the client (RFC 7009 §2.1).
func (s *OAuthService) RevokeToken(ctx context.Context, clientID, token, hint string) error {
	if len(token) == 0 || len(token) > maxTokenSecretLength {
		return nil
	}
	hash := auth.HashSecret(token)
	revokeAccess := func() (bool, error) {
		res, err := s.db.bun.NewUpdate().Model((*assistloop.AccessToken)(nil)).
			Set("revoked_at = coalesce(revoked_at, clock_timestamp())").
			Where("token_hash = ?", hash).Where("client_id = ?", clientID).Exec(ctx)
		if err != nil {
			return false, err
		}
		n, _ := res.RowsAffected()
		return n > 0, nil
	}
	revokeRefresh := func() (bool, error) {
		var grantID string
		err := s.db.bun.NewSelect().Model((*refreshRow)(nil)).Column("grant_id").
			Where("token_hash = ?", hash).Where("client_id = ?", clientID).Scan(ctx, &grantID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return true, s.RevokeGrant(ctx, grantID, reasonRefreshRevoked)
	}
	first, second := revokeAccess, revokeRefresh
	if hint == assistloop.TokenHintRefresh {
		first, second = revokeRefresh, revokeAccess
	}
	found, err := first()
	if err == nil && !found {
		_, err = second()
	}
	return wrap("revoke token", err)
}

// IntrospectToken describes a token of the client (RFC 7662 §2.2).
func (s *OAuthService) IntrospectToken(ctx context.Context, clientID, token, hint string) (*assistloop.TokenIntrospection, error) {
	inactive := &assistloop.TokenIntrospection{}
	if len(token) == 0 || len(token) > maxTokenSecretLength {
		return inactive, nil
	}
	hash := auth.HashSecret(token)
	access := func() (*assistloop.TokenIntrospection, error) {
		var row struct {
			assistloop.AccessToken
			Email string `bun:"email"`
		}
		err := s.db.bun.NewSelect().TableExpr("access_tokens AS t").
			ColumnExpr("t.*, u.email").
			Join("JOIN users AS u ON u.id = t.user_id").
			Where("t.token_hash = ?", hash).Where("t.client_id = ?", clientID).
			Where("t.revoked_at IS NULL").
			Where("t.expires_at IS NULL OR t.expires_at > clock_timestamp()").
			Scan(ctx, &row)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return &assistloop.TokenIntrospection{Active: true, Kind: assistloop.TokenHintAccess, ClientID: clientID,
			UserID: row.UserID, Email: row.Email, Scopes: row.Scopes, IssuedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt}, nil
	}
	refresh := func() (*assistloop.TokenIntrospection, error) {
		var row struct {
			assistloop.RefreshToken
			Email string `bun:"email"`
		}
		err := s.db.bun.NewSelect().TableExpr("oauth_refresh_tokens AS r").
			ColumnExpr("r.*, u.email").
			Join("JOIN users AS u ON u.id = r.user_id").
			Join("JOIN oauth_grants AS g ON g.id = r.grant_id").
			Where("r.token_hash = ?", hash).Where("r.client_id = ?", clientID).
			Where("r.revoked_at IS NULL AND r.rotated_at IS NULL AND g.revoked_at IS NULL").
			Where("r.expires_at > clock_timestamp()").
			Scan(ctx, &row)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		exp := row.ExpiresAt
		return &assistloop.TokenIntrospection{Active: true, Kind: assistloop.TokenHintRefresh, ClientID: clientID,
			UserID: row.UserID, Email: row.Email, Scopes: row.Scopes, IssuedAt: row.CreatedAt, ExpiresAt: &exp}, nil
	}
	first, second := access, refresh
	if hint == assistloop.TokenHintRefresh {
		first, second = refresh, access
	}
	ti, err := first()
	if err == nil && ti == nil {
		ti, err = second()
	}
	if err != nil {
		return nil, wrap("introspect token", err)
	}
	if ti == nil {
		return inactive, nil
	}
	return ti, nil
}
