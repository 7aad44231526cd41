package config

import (
	"strings"
	"testing"
)

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
