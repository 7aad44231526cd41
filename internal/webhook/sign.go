package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature value for a message: "v1," and the
// base64 HMAC-SHA256, keyed with the secret's bytes, of "id.timestamp.body"
// with the timestamp in Unix seconds.
func Sign(secret assistloop.WebhookSecret, id string, ts time.Time, body []byte) (string, error) {
	key, err := secret.Key()
	if err != nil || len(key) == 0 {
		return "", fmt.Errorf("webhook: malformed signing secret")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
