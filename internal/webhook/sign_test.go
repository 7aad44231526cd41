package webhook

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestNewWebhookSecret(t *testing.T) {
	s := assistloop.NewWebhookSecret()
	key, err := s.Key()
	if err != nil || len(key) != 32 || !strings.HasPrefix(s.Reveal(), "whsec_") {
		t.Fatalf("secret %q: key of %d bytes, %v", s.Reveal(), len(key), err)
	}
	if s == assistloop.NewWebhookSecret() {
		t.Error("two secrets are equal")
	}
	if strings.Contains(s.String(), s.Reveal()[6:]) {
		t.Error("String reveals the secret")
	}
}

// TestSignMatchesReference: the reference library signs identically and
// verifies our signature.
func TestSignMatchesReference(t *testing.T) {
	secret := assistloop.NewWebhookSecret()
	ts := time.Unix(1731407400, 0)
	body := []byte(`{"id":"550e8400-e29b-41d4-a716-446655440000","event":"new_conversation"}`)
	sig, err := Sign(secret, "550e8400-e29b-41d4-a716-446655440000", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := standardwebhooks.NewWebhook(secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Sign("550e8400-e29b-41d4-a716-446655440000", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if sig != want {
		t.Errorf("signature %s, reference %s", sig, want)
	}
	h := http.Header{}
	h.Set(HeaderID, "550e8400-e29b-41d4-a716-446655440000")
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	if err := ref.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Errorf("reference verifier: %v", err)
	}
	body[len(body)-2] = 'X'
	if err := ref.VerifyIgnoringTimestamp(body, h); err == nil {
		t.Error("reference verifier accepted a tampered body")
	}
}

// TestSignKnownVector checks the example of the Standard Webhooks
// specification.
func TestSignKnownVector(t *testing.T) {
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Errorf("signature %s, want %s", sig, want)
	}
}
