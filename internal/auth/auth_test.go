package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if h == HashPassword("correct horse battery") {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		got, err := CheckPassword(pw, h)
		if err != nil || got != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, got, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=x$a$b", "$argon2id$v=19$m=1,t=1,p=1$!!$aGFzaA"} {
		if _, err := CheckPassword("x", bad); err == nil {
			t.Errorf("CheckPassword accepted malformed hash %q", bad)
		}
	}
}

func TestSecrets(t *testing.T) {
	a, b := NewSecret(AccessTokenPrefix), NewSecret(AccessTokenPrefix)
	if a == b || !strings.HasPrefix(a, "alat_") || len(a) != len("alat_")+43 {
		t.Errorf("secrets %q %q", a, b)
	}
	if !SecretMatches(a, HashSecretString(a)) || SecretMatches(b, HashSecretString(a)) {
		t.Error("SecretMatches disagrees with HashSecretString")
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":     "abc",
		"bearer abc":     "abc",
		"Bearer   abc  ": "abc",
		"Bearer":         "",
		"Bearer ":        "",
		"Basic abc":      "",
		"abc":            "",
		"":               "",
	} {
		got, ok := BearerToken(header)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}
