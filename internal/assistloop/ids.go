package assistloop

import (
	"crypto/rand"
)

// Identifier prefixes.
const (
	PrefixUser         = "usr_"
	PrefixOrganization = "org_"
	PrefixAgent        = "agt_"
	PrefixChatUser     = "chu_"
	PrefixAttachment   = "att_"
	PrefixToken        = "tok_"
	PrefixWebhook      = "whk_"
)

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// NewID returns prefix followed by 20 random base-36 characters (about 103
// bits of entropy): opaque, URL-safe and unguessable.
func NewID(prefix string) string {
	return prefix + RandomString(20)
}

// RandomString returns n random characters of [0-9a-z], drawn without
// modulo bias.
func RandomString(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("assistloop: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 252 is the largest multiple of 36 below 256.
			if b < 252 && len(out) < n {
				out = append(out, idAlphabet[b%36])
			}
		}
	}
	return string(out)
}
