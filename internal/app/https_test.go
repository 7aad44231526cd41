package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/pgtest"
)

func newAppEnv(t *testing.T, db *bun.DB, env map[string]string) *app.App {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return app.New(cfg, slog.New(slog.DiscardHandler), db)
}

// userToken creates a user and a token with every scope.
func userToken(t *testing.T, a *app.App) (string, *assistloop.User) {
	t.Helper()
	ctx := context.Background()
	u, _, _, err := a.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{
		Email: assistloop.RandomString(8) + "@example.com", Password: "a-long-password", Name: "TLS Tester", OrganizationName: "TLS"})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: u.ID, Scopes: assistloop.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	return tok, u
}

func get(t *testing.T, c *http.Client, url, token string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

const httpsRequired = `{"error":"HTTPS required","message":"All API requests must be made over HTTPS. Calls made over plain HTTP fail."}`

// TestRequireHTTPS: with REQUIRE_HTTPS, a request that reached the service
// over plain HTTP is refused unless a trusted proxy says the client used
// HTTPS; the operations endpoints stay open for probes.
func TestRequireHTTPS(t *testing.T) {
	db := pgtest.Open(t)
	tests := []struct {
		name   string
		env    map[string]string
		path   string
		header map[string]string
		status int
	}{
		{"plain HTTP", map[string]string{"REQUIRE_HTTPS": "true"}, "/v1/oauth/me", nil, 403},
		{"plain HTTP to GraphQL", map[string]string{"REQUIRE_HTTPS": "true"}, "/graphql", nil, 403},
		{"plain HTTP to the other prefix", map[string]string{"REQUIRE_HTTPS": "true"}, "/api/v1/oauth/me", nil, 403},
		{"trusted proxy says http", map[string]string{"REQUIRE_HTTPS": "true"}, "/v1/oauth/me", map[string]string{"X-Forwarded-Proto": "http"}, 403},
		{"trusted proxy says https", map[string]string{"REQUIRE_HTTPS": "true"}, "/v1/oauth/me", map[string]string{"X-Forwarded-Proto": "https"}, 200},
		{"trusted proxies say https, http", map[string]string{"REQUIRE_HTTPS": "true"}, "/v1/oauth/me", map[string]string{"X-Forwarded-Proto": "https, http"}, 200},
		{"untrusted peer says https", map[string]string{"REQUIRE_HTTPS": "true", "TRUSTED_PROXIES": "10.0.0.0/8"}, "/v1/oauth/me",
			map[string]string{"X-Forwarded-Proto": "https"}, 403},
		{"health probe over plain HTTP", map[string]string{"REQUIRE_HTTPS": "true"}, "/healthz", nil, 200},
		{"not required", map[string]string{}, "/v1/oauth/me", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAppEnv(t, db, tt.env)
			srv := httptest.NewServer(a.Handler())
			defer srv.Close()
			token, _ := userToken(t, a)
			status, body := get(t, srv.Client(), srv.URL+tt.path, token, tt.header)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status == 403 && body != httpsRequired {
				t.Errorf("body %s, want %s", body, httpsRequired)
			}
		})
	}
}

// TestServeHTTPS: with TLS_CERT_FILE and TLS_KEY_FILE the server speaks
// HTTPS (and only HTTPS) on its listener.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	db := pgtest.Open(t)
	a := newAppEnv(t, db, map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "REQUIRE_HTTPS": "true"})
	token, u := userToken(t, a)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not stop")
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	status, body := get(t, client, "https://"+ln.Addr().String()+"/v1/oauth/me", token, nil)
	want := `{"uuid":"` + u.ID + `","name":"TLS Tester","email":"` + u.Email + `"}`
	if status != http.StatusOK || body != want {
		t.Errorf("over HTTPS: %d %s, want 200 %s", status, body, want)
	}
	// Plain HTTP to the TLS listener gets no HTTP answer at all.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/v1/oauth/me")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP answered 200")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "assistloop test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
