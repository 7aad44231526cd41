package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

func TestAccessTokens(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "tokens")
	ctx := context.Background()
	token, stored, err := s.tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{
		UserID: w.user.ID, Scopes: []assistloop.Scope{assistloop.ScopeReadConversations}, TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, auth.AccessTokenPrefix) {
		t.Errorf("token %q lacks its prefix", token)
	}
	// Only the hash is stored.
	var n int
	if err := s.db.NewRaw("SELECT count(*) FROM access_tokens WHERE position(convert_to(?, 'UTF8') in token_hash) > 0 OR id = ?", token, token).Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the token's value is stored")
	}
	p, err := s.tokens.AuthenticateToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != w.user.ID || p.TokenID != stored.ID || len(p.Scopes) != 1 || p.Scopes[0] != assistloop.ScopeReadConversations || p.System {
		t.Errorf("principal = %+v", p)
	}

	for name, bad := range map[string]string{
		"unknown":   auth.NewSecret(auth.AccessTokenPrefix),
		"truncated": token[:len(token)-1],
		"empty":     "",
		"huge":      strings.Repeat("a", 10000),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.tokens.AuthenticateToken(ctx, bad)
			wantCode(t, err, assistloop.EUNAUTHORIZED)
		})
	}

	if _, err := s.db.NewRaw("UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE id = ?", stored.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.tokens.AuthenticateToken(ctx, token)
	wantCode(t, err, assistloop.EUNAUTHORIZED)

	live, liveRow, err := s.tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: w.user.ID, Scopes: assistloop.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.NewRaw("UPDATE access_tokens SET revoked_at = now() WHERE id = ?", liveRow.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.tokens.AuthenticateToken(ctx, live)
	wantCode(t, err, assistloop.EUNAUTHORIZED)

	_, _, err = s.tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: "usr_missing", Scopes: assistloop.AllScopes})
	wantCode(t, err, assistloop.ENOTFOUND)
}

func TestClientsAndUsers(t *testing.T) {
	s := newServices(t)
	ctx := context.Background()
	c, secret, err := s.clients.CreateClient(ctx, assistloop.CreateClientInput{Name: "Make", RedirectURIs: []string{"https://www.make.com/oauth/cb/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretHash == nil || !auth.SecretMatches(secret, *c.SecretHash) || strings.Contains(*c.SecretHash, secret) {
		t.Error("client secret not stored as its hash")
	}
	if len(c.Scopes) != len(assistloop.AllScopes) {
		t.Errorf("default client scopes = %v", c.Scopes)
	}
	pub, secret, err := s.clients.CreateClient(ctx, assistloop.CreateClientInput{Name: "SPA", RedirectURIs: []string{"http://127.0.0.1:9000/cb"}, Public: true})
	if err != nil || secret != "" || pub.SecretHash != nil {
		t.Errorf("public client: %v %q %v", pub, secret, err)
	}
	for name, uri := range map[string]string{
		"http":     "http://make.com/cb",
		"relative": "/cb",
		"fragment": "https://make.com/cb#x",
		"userinfo": "https://user@make.com/cb",
		"scheme":   "javascript:alert(1)",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := s.clients.CreateClient(ctx, assistloop.CreateClientInput{Name: "x", RedirectURIs: []string{uri}})
			wantCode(t, err, assistloop.EINVALID)
		})
	}
	// Re-registering a named client rotates its secret.
	first, s1, err := s.clients.CreateClient(ctx, assistloop.CreateClientInput{ID: "cli_fixed", Name: "Fixed", RedirectURIs: []string{"https://a.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	second, s2, err := s.clients.CreateClient(ctx, assistloop.CreateClientInput{ID: "cli_fixed", Name: "Fixed 2", RedirectURIs: []string{"https://b.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != second.ID || s1 == s2 || second.Name != "Fixed 2" {
		t.Errorf("re-registration: %v %v", first, second)
	}

	// Users: duplicate emails (any case) conflict; passwords are checked.
	w := s.newWorkspace(t, "users")
	_, _, _, err = s.users.CreateUser(ctx, assistloop.CreateUserInput{Email: strings.ToUpper(w.user.Email), Password: "another password", Name: "Dup", OrganizationName: "Dup"})
	wantCode(t, err, assistloop.ECONFLICT)
	if u, err := s.users.AuthenticateUser(ctx, strings.ToUpper(w.user.Email), "correct horse battery"); err != nil || u.ID != w.user.ID {
		t.Errorf("authenticate: %v %v", u, err)
	}
	_, err = s.users.AuthenticateUser(ctx, w.user.Email, "wrong")
	wantCode(t, err, assistloop.EUNAUTHORIZED)
	_, err = s.users.AuthenticateUser(ctx, "nobody@example.com", "wrong")
	wantCode(t, err, assistloop.EUNAUTHORIZED)
	_, _, _, err = s.users.CreateUser(ctx, assistloop.CreateUserInput{Email: "x", Password: "short", Name: "", OrganizationName: ""})
	if e := assistloop.ErrorOf(err); e.Code != assistloop.EINVALID || len(e.Fields) != 4 {
		t.Errorf("invalid user: %v", err)
	}
}
