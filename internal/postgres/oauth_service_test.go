package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
	"github.com/assistloop/assistloop/internal/pgtest"
	"github.com/assistloop/assistloop/internal/postgres"
)

// oauthFixture is a user with two registered clients and the services
// under test.
type oauthFixture struct {
	t      *testing.T
	ctx    context.Context
	db     *bun.DB
	svc    *postgres.OAuthService
	tokens *postgres.TokenService
	user   *assistloop.User
	client *assistloop.OAuthClient
	other  *assistloop.OAuthClient
}

func newOAuthFixture(t *testing.T) *oauthFixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.Open(t)
	store := postgres.NewDB(db, nil)
	f := &oauthFixture{t: t, ctx: ctx, db: db, svc: postgres.NewOAuthService(store), tokens: postgres.NewTokenService(store)}
	var err error
	f.user, _, _, err = postgres.NewUserService(store).CreateUser(ctx, assistloop.CreateUserInput{
		Email: "oauth-" + assistloop.RandomString(8) + "@example.com", Password: "password-1234", Name: "O. Auth", OrganizationName: "Org",
	})
	if err != nil {
		t.Fatal(err)
	}
	clients := postgres.NewClientService(store)
	for _, c := range []**assistloop.OAuthClient{&f.client, &f.other} {
		if *c, _, err = clients.CreateClient(ctx, assistloop.CreateClientInput{Name: "C", RedirectURIs: []string{"https://www.make.com/oauth/cb/app"}}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// code issues an authorization code for the fixture's client.
func (f *oauthFixture) code(scopes ...assistloop.Scope) (string, *assistloop.AuthorizationCode) {
	f.t.Helper()
	if len(scopes) == 0 {
		scopes = assistloop.DefaultScopes
	}
	secret := auth.NewSecret(auth.AuthCodePrefix)
	c, err := f.svc.CreateAuthorizationCode(f.ctx, assistloop.CreateAuthorizationCodeInput{
		Code: secret, ClientID: f.client.ID, UserID: f.user.ID, RedirectURI: f.client.RedirectURIs[0],
		Scopes: scopes, TTL: 10 * time.Minute,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return secret, c
}

type issued struct {
	access, refresh string
	rec             *assistloop.IssuedTokens
}

// issue redeems a code into tokens.
func (f *oauthFixture) issue(grantID string, scopes ...assistloop.Scope) issued {
	f.t.Helper()
	out := issued{access: auth.NewSecret(auth.AccessTokenPrefix), refresh: auth.NewSecret(auth.RefreshTokenPrefix)}
	var err error
	out.rec, err = f.svc.IssueTokens(f.ctx, assistloop.IssueTokensInput{
		GrantID: grantID, ClientID: f.client.ID, Scopes: scopes,
		AccessToken: out.access, AccessTTL: time.Hour, RefreshToken: out.refresh, RefreshTTL: 30 * 24 * time.Hour,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *oauthFixture) rotate(clientID, refreshID string, scopes ...assistloop.Scope) (issued, error) {
	out := issued{access: auth.NewSecret(auth.AccessTokenPrefix), refresh: auth.NewSecret(auth.RefreshTokenPrefix)}
	var err error
	out.rec, err = f.svc.RotateRefreshToken(f.ctx, assistloop.RotateRefreshTokenInput{
		RefreshTokenID: refreshID, ClientID: clientID, Scopes: scopes,
		AccessToken: out.access, AccessTTL: time.Hour, RefreshToken: out.refresh, RefreshTTL: 30 * 24 * time.Hour,
	})
	return out, err
}

// live reports whether an access token authenticates.
func (f *oauthFixture) live(access string) bool {
	f.t.Helper()
	_, err := f.tokens.AuthenticateToken(f.ctx, access)
	switch assistloop.ErrorCode(err) {
	case "":
		return true
	case assistloop.EUNAUTHORIZED:
		return false
	}
	f.t.Fatal(err)
	return false
}

func expectCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := assistloop.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func TestOAuthCodeLifecycle(t *testing.T) {
	f := newOAuthFixture(t)
	secret, created := f.code(assistloop.ScopeReadConversations)

	found, err := f.svc.FindAuthorizationCode(f.ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if found.GrantID != created.GrantID || found.ClientID != f.client.ID || found.UserID != f.user.ID ||
		found.RedirectURI != f.client.RedirectURIs[0] || assistloop.FormatScopes(found.Scopes) != "read:conversations" {
		t.Errorf("found code = %+v, want the created one", found)
	}
	if got := found.ExpiresAt.Sub(found.CreatedAt); got != 10*time.Minute {
		t.Errorf("code lifetime = %v, want 10m", got)
	}
	if err := f.svc.ConsumeAuthorizationCode(f.ctx, secret); err != nil {
		t.Fatalf("first consume: %v", err)
	}
	tok := f.issue(created.GrantID)
	p, err := f.tokens.AuthenticateToken(f.ctx, tok.access)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != f.user.ID || p.ClientID != f.client.ID || assistloop.FormatScopes(p.Scopes) != "read:conversations" {
		t.Errorf("principal = %+v", p)
	}

	// A replay, through either door, is refused and revokes the tokens.
	expectCode(t, "second consume", f.svc.ConsumeAuthorizationCode(f.ctx, secret), assistloop.ECONFLICT)
	if f.live(tok.access) {
		t.Error("access token still live after the code was replayed")
	}
	_, err = f.svc.FindRefreshToken(f.ctx, f.client.ID, tok.refresh)
	expectCode(t, "refresh token of the replayed code", err, assistloop.ENOTFOUND)
	_, err = f.svc.FindAuthorizationCode(f.ctx, secret)
	expectCode(t, "find after consume", err, assistloop.ECONFLICT)

	_, err = f.svc.FindAuthorizationCode(f.ctx, auth.NewSecret(auth.AuthCodePrefix))
	expectCode(t, "unknown code", err, assistloop.ENOTFOUND)
	_, err = f.svc.FindAuthorizationCode(f.ctx, "short")
	expectCode(t, "malformed code", err, assistloop.ENOTFOUND)
}

func TestOAuthConsumeCodeConcurrently(t *testing.T) {
	f := newOAuthFixture(t)
	secret, _ := f.code()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f.svc.ConsumeAuthorizationCode(f.ctx, secret)
		})
	}
	close(start)
	wg.Wait()
	codes := map[string]int{}
	for _, err := range errs {
		codes[assistloop.ErrorCode(err)]++
	}
	if codes[""] != 1 || codes[assistloop.ECONFLICT] != n-1 {
		t.Errorf("outcomes %v, want exactly one success and %d conflicts", codes, n-1)
	}
}

func TestOAuthCodeExpiryAndValidation(t *testing.T) {
	f := newOAuthFixture(t)
	secret, c := f.code()
	if _, err := f.db.ExecContext(f.ctx, `UPDATE oauth_authorization_codes SET created_at = created_at - interval '11 minutes',
		expires_at = expires_at - interval '11 minutes' WHERE grant_id = ?`, c.GrantID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.FindAuthorizationCode(f.ctx, secret)
	expectCode(t, "find expired", err, assistloop.ENOTFOUND)
	expectCode(t, "consume expired", f.svc.ConsumeAuthorizationCode(f.ctx, secret), assistloop.ENOTFOUND)

	base := assistloop.CreateAuthorizationCodeInput{
		Code: auth.NewSecret(auth.AuthCodePrefix), ClientID: f.client.ID, UserID: f.user.ID,
		RedirectURI: f.client.RedirectURIs[0], Scopes: assistloop.DefaultScopes, TTL: time.Minute,
	}
	cases := []struct {
		name   string
		mutate func(*assistloop.CreateAuthorizationCodeInput)
		want   string
	}{
		{"longer than ten minutes", func(in *assistloop.CreateAuthorizationCodeInput) { in.TTL = 11 * time.Minute }, assistloop.EINVALID},
		{"plain PKCE", func(in *assistloop.CreateAuthorizationCodeInput) {
			in.CodeChallenge, in.CodeChallengeMethod = "abc", "plain"
		}, assistloop.EINVALID},
		{"challenge without method", func(in *assistloop.CreateAuthorizationCodeInput) { in.CodeChallenge = "abc" }, assistloop.EINVALID},
		{"no scope", func(in *assistloop.CreateAuthorizationCodeInput) { in.Scopes = nil }, assistloop.EINVALID},
		{"unknown scope", func(in *assistloop.CreateAuthorizationCodeInput) { in.Scopes = []assistloop.Scope{"admin"} }, assistloop.EINVALID},
		{"low-entropy code", func(in *assistloop.CreateAuthorizationCodeInput) { in.Code = "1234" }, assistloop.EINVALID},
		{"unknown user", func(in *assistloop.CreateAuthorizationCodeInput) { in.UserID = "usr_nobody" }, assistloop.ENOTFOUND},
		{"S256", func(in *assistloop.CreateAuthorizationCodeInput) {
			in.CodeChallenge, in.CodeChallengeMethod = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256"
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			in.Code = auth.NewSecret(auth.AuthCodePrefix)
			tc.mutate(&in)
			_, err := f.svc.CreateAuthorizationCode(f.ctx, in)
			expectCode(t, tc.name, err, tc.want)
		})
	}

	// The database refuses a code living longer than ten minutes too.
	_, err = f.db.ExecContext(f.ctx, `UPDATE oauth_authorization_codes SET expires_at = created_at + interval '11 minutes' WHERE grant_id = ?`, c.GrantID)
	if err == nil {
		t.Error("the database accepted a code living eleven minutes")
	}
}

func TestOAuthIssueTokens(t *testing.T) {
	f := newOAuthFixture(t)
	_, c := f.code(assistloop.ScopeReadConversations, assistloop.ScopeReadMessages)

	_, err := f.svc.IssueTokens(f.ctx, assistloop.IssueTokensInput{GrantID: c.GrantID, ClientID: f.client.ID,
		Scopes:      []assistloop.Scope{assistloop.ScopeWriteConversations},
		AccessToken: auth.NewSecret("a"), AccessTTL: time.Hour, RefreshToken: auth.NewSecret("r"), RefreshTTL: time.Hour})
	expectCode(t, "scope beyond the grant", err, assistloop.EINVALID)
	_, err = f.svc.IssueTokens(f.ctx, assistloop.IssueTokensInput{GrantID: c.GrantID, ClientID: f.other.ID,
		AccessToken: auth.NewSecret("a"), AccessTTL: time.Hour, RefreshToken: auth.NewSecret("r"), RefreshTTL: time.Hour})
	expectCode(t, "another client's grant", err, assistloop.ENOTFOUND)
	_, err = f.svc.IssueTokens(f.ctx, assistloop.IssueTokensInput{GrantID: c.GrantID, ClientID: f.client.ID,
		AccessToken: auth.NewSecret("a"), RefreshToken: auth.NewSecret("r")})
	expectCode(t, "tokens that never expire", err, assistloop.EINVALID)

	tok := f.issue(c.GrantID)
	if got := assistloop.FormatScopes(tok.rec.Access.Scopes); got != "read:conversations read:messages" {
		t.Errorf("scopes = %q, want the grant's", got)
	}
	if !bytes.Equal(tok.rec.Access.TokenHash, sha(tok.access)) || !bytes.Equal(tok.rec.Refresh.TokenHash, sha(tok.refresh)) {
		t.Error("tokens are not stored as their SHA-256")
	}
	var stored int
	if err := f.db.NewRaw(`SELECT count(*) FROM oauth_refresh_tokens WHERE token_hash = ? AND access_token_id = ?`,
		sha(tok.refresh), tok.rec.Access.ID).Scan(f.ctx, &stored); err != nil || stored != 1 {
		t.Errorf("refresh token rows by hash = %d (%v), want 1", stored, err)
	}

	// Tokens issued to a grant revoked meanwhile are born revoked.
	_, c2 := f.code()
	if err := f.svc.RevokeGrant(f.ctx, c2.GrantID, "test"); err != nil {
		t.Fatal(err)
	}
	late := f.issue(c2.GrantID)
	if f.live(late.access) {
		t.Error("a token issued to a revoked grant authenticates")
	}
	expectCode(t, "revoke an unknown grant", f.svc.RevokeGrant(f.ctx, "grt_nobody", "test"), assistloop.ENOTFOUND)
}

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func TestOAuthRefreshRotation(t *testing.T) {
	f := newOAuthFixture(t)
	_, c := f.code(assistloop.ScopeReadConversations, assistloop.ScopeReadMessages)
	first := f.issue(c.GrantID)

	rt, err := f.svc.FindRefreshToken(f.ctx, f.other.ID, first.refresh)
	expectCode(t, "another client finds the token", err, assistloop.ENOTFOUND)
	_, err = f.rotate(f.other.ID, first.rec.Refresh.ID)
	expectCode(t, "another client rotates the token", err, assistloop.ENOTFOUND)
	_, err = f.rotate(f.client.ID, first.rec.Refresh.ID, assistloop.ScopeWriteConversations)
	expectCode(t, "widening on rotation", err, assistloop.EINVALID)
	if !f.live(first.access) {
		t.Fatal("refused attempts revoked the access token")
	}

	rt, err = f.svc.FindRefreshToken(f.ctx, f.client.ID, first.refresh)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.rotate(f.client.ID, rt.ID, assistloop.ScopeReadMessages)
	if err != nil {
		t.Fatal(err)
	}
	if f.live(first.access) || !f.live(second.access) {
		t.Error("rotation must revoke the old access token and issue a live one")
	}
	if got := assistloop.FormatScopes(second.rec.Refresh.Scopes); got != "read:messages" {
		t.Errorf("narrowed refresh token scopes = %q", got)
	}
	_, err = f.rotate(f.client.ID, second.rec.Refresh.ID, assistloop.ScopeReadConversations)
	expectCode(t, "widening back to the grant's scope", err, assistloop.EINVALID)

	// The rotated token presented again revokes the grant.
	_, err = f.svc.FindRefreshToken(f.ctx, f.client.ID, first.refresh)
	expectCode(t, "reuse", err, assistloop.ECONFLICT)
	if f.live(second.access) {
		t.Error("reuse of a rotated refresh token left the grant's access token live")
	}
	_, err = f.svc.FindRefreshToken(f.ctx, f.client.ID, second.refresh)
	expectCode(t, "successor after reuse", err, assistloop.ENOTFOUND)
	var reason string
	if err := f.db.NewRaw("SELECT revoke_reason FROM oauth_grants WHERE id = ?", c.GrantID).Scan(f.ctx, &reason); err != nil || reason == "" {
		t.Errorf("grant revoke_reason = %q (%v), want one", reason, err)
	}
}

func TestOAuthRotateConcurrently(t *testing.T) {
	f := newOAuthFixture(t)
	_, c := f.code()
	tok := f.issue(c.GrantID)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = f.rotate(f.client.ID, tok.rec.Refresh.ID)
		})
	}
	close(start)
	wg.Wait()
	codes := map[string]int{}
	for _, err := range errs {
		codes[assistloop.ErrorCode(err)]++
	}
	if codes[""] != 1 || codes[assistloop.ECONFLICT] != n-1 {
		t.Errorf("outcomes %v, want one success and %d conflicts", codes, n-1)
	}
	var live int
	if err := f.db.NewRaw("SELECT count(*) FROM access_tokens WHERE grant_id = ? AND revoked_at IS NULL", c.GrantID).Scan(f.ctx, &live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Errorf("%d access tokens of the grant live after concurrent reuse, want 0", live)
	}
}

func TestOAuthRevokeAndIntrospect(t *testing.T) {
	f := newOAuthFixture(t)
	_, c := f.code()
	tok := f.issue(c.GrantID)

	ti, err := f.svc.IntrospectToken(f.ctx, f.client.ID, tok.access, "")
	if err != nil {
		t.Fatal(err)
	}
	if !ti.Active || ti.Kind != assistloop.TokenHintAccess || ti.UserID != f.user.ID || ti.Email != f.user.Email || ti.ExpiresAt == nil {
		t.Errorf("access introspection = %+v", ti)
	}
	ti, _ = f.svc.IntrospectToken(f.ctx, f.client.ID, tok.refresh, assistloop.TokenHintAccess)
	if !ti.Active || ti.Kind != assistloop.TokenHintRefresh {
		t.Errorf("refresh introspection with a wrong hint = %+v", ti)
	}
	for name, got := range map[string]func() (*assistloop.TokenIntrospection, error){
		"other client": func() (*assistloop.TokenIntrospection, error) {
			return f.svc.IntrospectToken(f.ctx, f.other.ID, tok.access, "")
		},
		"unknown": func() (*assistloop.TokenIntrospection, error) {
			return f.svc.IntrospectToken(f.ctx, f.client.ID, "alat_x", "")
		},
	} {
		if ti, err := got(); err != nil || ti.Active || ti.UserID != "" || ti.Scopes != nil {
			t.Errorf("%s: %+v %v, want inactive", name, ti, err)
		}
	}

	// Another client's revocation changes nothing.
	if err := f.svc.RevokeToken(f.ctx, f.other.ID, tok.refresh, ""); err != nil || !f.live(tok.access) {
		t.Errorf("another client revoked the grant (err %v)", err)
	}
	// Revoking the access token leaves the refresh token.
	if err := f.svc.RevokeToken(f.ctx, f.client.ID, tok.access, assistloop.TokenHintRefresh); err != nil {
		t.Fatal(err)
	}
	if f.live(tok.access) {
		t.Error("revoked access token still live")
	}
	if _, err := f.svc.FindRefreshToken(f.ctx, f.client.ID, tok.refresh); err != nil {
		t.Errorf("refresh token after revoking the access token: %v", err)
	}
	// Revoking the refresh token revokes the grant.
	second, err := f.rotate(f.client.ID, tok.rec.Refresh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeToken(f.ctx, f.client.ID, second.refresh, assistloop.TokenHintRefresh); err != nil {
		t.Fatal(err)
	}
	if f.live(second.access) {
		t.Error("access token live after its refresh token was revoked")
	}
	if ti, _ := f.svc.IntrospectToken(f.ctx, f.client.ID, second.refresh, ""); ti.Active {
		t.Error("revoked refresh token introspects active")
	}
	if err := f.svc.RevokeToken(f.ctx, f.client.ID, "alat_unknown", ""); err != nil {
		t.Errorf("unknown token: %v", err)
	}
}

func TestOAuthPurgesExpiredCodes(t *testing.T) {
	f := newOAuthFixture(t)
	_, stale := f.code()
	_, redeemed := f.code()
	f.issue(redeemed.GrantID)
	if _, err := f.db.ExecContext(f.ctx, `UPDATE oauth_authorization_codes SET created_at = created_at - interval '2 days',
		expires_at = expires_at - interval '2 days', consumed_at = CASE WHEN grant_id = ? THEN now() END
		WHERE grant_id IN (?, ?)`, redeemed.GrantID, stale.GrantID, redeemed.GrantID); err != nil {
		t.Fatal(err)
	}
	f.code() // creating a code purges
	count := func(q string, args ...any) int {
		var n int
		if err := f.db.NewRaw(q, args...).Scan(f.ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count(*) FROM oauth_authorization_codes WHERE grant_id IN (?, ?)", stale.GrantID, redeemed.GrantID); n != 0 {
		t.Errorf("%d expired codes left, want 0", n)
	}
	if count("SELECT count(*) FROM oauth_grants WHERE id = ?", stale.GrantID) != 0 {
		t.Error("the grant of a never-redeemed expired code was kept")
	}
	if count("SELECT count(*) FROM oauth_grants WHERE id = ?", redeemed.GrantID) != 1 {
		t.Error("the grant of a redeemed code was deleted with its tokens")
	}
}
