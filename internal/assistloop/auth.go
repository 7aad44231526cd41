package assistloop

import (
	"context"
	"slices"
	"strings"
)

// Scope is an OAuth scope a token carries.
type Scope string

const (
	ScopeReadConversations  Scope = "read:conversations"
	ScopeReadMessages       Scope = "read:messages"
	ScopeManageWebhooks     Scope = "manage:webhooks"
	ScopeWriteConversations Scope = "write:conversations"
)

// AllScopes lists every scope, in the order the reference documents them.
var AllScopes = []Scope{ScopeReadConversations, ScopeReadMessages, ScopeManageWebhooks, ScopeWriteConversations}

// DefaultScopes are granted when a client asks for none.
var DefaultScopes = []Scope{ScopeReadConversations, ScopeReadMessages, ScopeManageWebhooks}

// scopeAliases maps the Conversations API scope names (second reference) to
// ours.
var scopeAliases = map[string]Scope{
	"conversations.readonly":         ScopeReadConversations,
	"conversations/message.readonly": ScopeReadMessages,
	"conversations.write":            ScopeWriteConversations,
	"conversations/message.write":    ScopeWriteConversations,
}

// ParseScope resolves a scope name or alias. ok is false for unknown names.
func ParseScope(s string) (Scope, bool) {
	if slices.Contains(AllScopes, Scope(s)) {
		return Scope(s), true
	}
	sc, ok := scopeAliases[s]
	return sc, ok
}

// ParseScopes parses a space-separated scope string (RFC 6749 §3.3),
// resolving aliases and dropping duplicates. Unknown names are returned in
// unknown.
func ParseScopes(s string) (scopes []Scope, unknown []string) {
	for _, name := range strings.Fields(s) {
		sc, ok := ParseScope(name)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return scopes, unknown
}

// FormatScopes joins scopes with spaces in their canonical order.
func FormatScopes(scopes []Scope) string {
	var names []string
	for _, sc := range AllScopes {
		if slices.Contains(scopes, sc) {
			names = append(names, string(sc))
		}
	}
	return strings.Join(names, " ")
}

// Principal is who a request acts for: a user through an access token, or
// the internal system principal the background workers use.
type Principal struct {
	UserID   string
	ClientID string // the OAuth client the token was issued to; empty for CLI tokens
	TokenID  string
	Scopes   []Scope
	// System marks the internal principal that sees every workspace. It is
	// only ever created in-process (NewSystemContext); no token maps to it.
	System bool
}

// Has reports whether the principal holds the scope. The system principal
// holds every scope.
func (p *Principal) Has(sc Scope) bool {
	return p != nil && (p.System || slices.Contains(p.Scopes, sc))
}

// Require returns EFORBIDDEN unless the principal holds the scope, and
// EUNAUTHORIZED when there is no principal at all.
func (p *Principal) Require(sc Scope) error {
	if p == nil {
		return Unauthorized()
	}
	if !p.Has(sc) {
		return Forbidden(sc)
	}
	return nil
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// RequirePrincipal returns the principal in ctx or EUNAUTHORIZED.
func RequirePrincipal(ctx context.Context) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if p == nil {
		return nil, Unauthorized()
	}
	return p, nil
}

// NewSystemContext returns a context acting as the internal system principal.
func NewSystemContext(ctx context.Context) context.Context {
	return WithPrincipal(ctx, &Principal{System: true})
}
