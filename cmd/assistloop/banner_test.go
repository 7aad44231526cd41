package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/demo"
	"github.com/assistloop/assistloop/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestBannerCurlWorks runs the banner's "Try it" line, as printed, against
// a fresh service with the demo loaded.
func TestBannerCurlWorks(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(cfg, slog.New(slog.DiscardHandler), pgtest.Open(t))
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	res, err := demo.Load(context.Background(), demoServices(a))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  curl -s (\S+) -H 'Authorization: Bearer (\S+)'$`).FindStringSubmatch(banner(srv.URL, res))
	if m == nil {
		t.Fatalf("no curl line in the banner:\n%s", banner(srv.URL, res))
	}
	if m[1] != srv.URL+"/v1/oauth/me" {
		t.Errorf("the banner calls %s, want GET /v1/oauth/me", m[1])
	}
	req, _ := http.NewRequest(http.MethodGet, m[1], nil)
	req.Header.Set("Authorization", "Bearer "+m[2])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ UUID, Name, Email string }
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if me.UUID != res.User.UUID || me.Email != demo.Email || me.Name != demo.UserName {
		t.Errorf("got %+v, want the demo user %s", me, res.User.UUID)
	}
}
