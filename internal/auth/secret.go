// Package auth holds the credential primitives: password hashing, bearer
// token generation and hashing, and the HTTP middleware that turns an
// Authorization header into a principal.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// Token prefixes make leaked secrets recognisable to secret scanners.
const (
	AccessTokenPrefix  = "alat_"
	RefreshTokenPrefix = "alrt_"
	ClientSecretPrefix = "alcs_"
	AuthCodePrefix     = "alac_"
)

// NewSecret returns prefix followed by 32 random bytes, base64url-encoded.
func NewSecret(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns the SHA-256 of a high-entropy secret. A fast hash is
// right here: the secrets are 256-bit random values, so there is nothing to
// brute-force, and lookups by hash must be cheap.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// HashSecretString is HashSecret encoded as unpadded base64url, for text
// columns.
func HashSecretString(secret string) string {
	return base64.RawURLEncoding.EncodeToString(HashSecret(secret))
}

// SecretMatches compares a secret against a stored HashSecretString in
// constant time.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecretString(secret)), []byte(hash)) == 1
}
