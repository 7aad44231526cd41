package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" || !c.Embedded() || c.DataDir != ".data" ||
		c.LogLevel != slog.LevelInfo || c.RateLimitWindow != time.Minute || c.WebhookAllowPrivateTargets || !c.DemoOnEmpty ||
		c.GraphQLComplexityLimit != 5000 || !c.GraphQLIntrospection || len(c.TrustedProxies) != 2 {
		t.Errorf("defaults = %+v", c)
	}
	c, err = Load(env(map[string]string{"DATABASE_URL": "postgres://u@db/x", "TLS_CERT_FILE": "c", "TLS_KEY_FILE": "k", "ADDR": ":8443"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Embedded() || c.DemoOnEmpty || c.GraphQLIntrospection || c.PublicURL != "https://:8443" || !c.TLS() {
		t.Errorf("configured = %+v", c)
	}
}

func TestValidationListsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"ADDR": "nope", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "DATABASE_URL": "mysql://x", "PUBLIC_URL": "ftp://x",
		"TLS_CERT_FILE": "only-cert", "REDIS_URL": "http://x", "TRUSTED_PROXIES": "10.0.0.0/8,garbage",
		"RATE_LIMIT_WINDOW": "-1s", "GRAPHQL_COMPLEXITY_LIMIT": "0", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "maybe",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, key := range []string{"ADDR", "LOG_LEVEL", "LOG_FORMAT", "DATABASE_URL", "PUBLIC_URL", "TLS_CERT_FILE", "REDIS_URL",
		"TRUSTED_PROXIES", "RATE_LIMIT_WINDOW", "GRAPHQL_COMPLEXITY_LIMIT", "WEBHOOK_ALLOW_PRIVATE_TARGETS"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not mention %s:\n%v", key, err)
		}
	}
}
func TestRedisURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"redis://127.0.0.1:6379/0", true},
		{"redis://:secret@redis.internal:6380/2", true},
		{"rediss://redis.example.com:6379", true},
		{"http://127.0.0.1:6379", false},
		{"redis://127.0.0.1:6379/not-a-db", false},
		{"127.0.0.1:6379", false},
	} {
		_, err := Load(func(k string) string {
			if k == "REDIS_URL" {
				return tt.url
			}
			return ""
		})
		if ok := err == nil; ok != tt.ok {
			t.Errorf("REDIS_URL=%q: error %v, want ok %v", tt.url, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "REDIS_URL") {
			t.Errorf("REDIS_URL=%q: error %q does not name the variable", tt.url, err)
		}
	}
}

func TestWebhookLogRetention(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 30 * 24 * time.Hour, "0": 0, "48h": 48 * time.Hour} {
		c, err := Load(env(map[string]string{"WEBHOOK_LOG_RETENTION": v}))
		if err != nil || c.WebhookLogRetention != want {
			t.Errorf("WEBHOOK_LOG_RETENTION=%q: %v (%v), want %v", v, c.WebhookLogRetention, err, want)
		}
	}
	if _, err := Load(env(map[string]string{"WEBHOOK_LOG_RETENTION": "a month"})); err == nil || !strings.Contains(err.Error(), "WEBHOOK_LOG_RETENTION") {
		t.Errorf("bad retention accepted: %v", err)
	}
}
