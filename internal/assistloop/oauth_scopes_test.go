package assistloop

import (
	"strings"
	"testing"
)

func TestResolveScopes(t *testing.T) {
	limited := []Scope{ScopeReadMessages, ScopeWriteConversations}
	cases := []struct {
		requested string
		allowed   []Scope
		want      string // canonical scopes, or "error: <substring>"
	}{
		{"", AllScopes, "read:conversations read:messages manage:webhooks"},
		{"   ", AllScopes, "read:conversations read:messages manage:webhooks"},
		{"write:conversations read:conversations", AllScopes, "read:conversations write:conversations"},
		{"conversations.readonly conversations/message.readonly", AllScopes, "read:conversations read:messages"},
		{"conversations.write conversations/message.write", AllScopes, "write:conversations"},
		{"read:messages read:messages", AllScopes, "read:messages"},
		{"read:conversations admin", AllScopes, `error: Unknown scope "admin"`},
		{"READ:CONVERSATIONS", AllScopes, "error: Unknown scope"},
		{"read:conversations,read:messages", AllScopes, "error: Unknown scope"},
		{"", limited, "read:messages"},
		{"conversations.write", limited, "write:conversations"},
		{"read:conversations", limited, `error: may not request the scope "read:conversations"`},
		{"", []Scope{ScopeWriteConversations}, "error: may not use the default scopes"},
	}
	for _, tc := range cases {
		got, err := ResolveScopes(tc.requested, tc.allowed)
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if ErrorCode(err) != EINVALID || !strings.Contains(ErrorOf(err).Message, want) {
				t.Errorf("ResolveScopes(%q, %v) error = %v, want EINVALID containing %q", tc.requested, tc.allowed, err, want)
			}
			continue
		}
		if err != nil || FormatScopes(got) != tc.want || strings.Join(scopeNames(got), " ") != tc.want {
			t.Errorf("ResolveScopes(%q, %v) = %v, %v; want %q in canonical order", tc.requested, tc.allowed, got, err, tc.want)
		}
	}
}

func scopeNames(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, sc := range scopes {
		out[i] = string(sc)
	}
	return out
}

func TestScopesWithin(t *testing.T) {
	if !ScopesWithin(nil, nil) || !ScopesWithin(DefaultScopes, AllScopes) || ScopesWithin(AllScopes, DefaultScopes) {
		t.Error("ScopesWithin disagrees with set inclusion")
	}
}
