package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// fakeDNS answers lookups from a table; unknown names do not resolve.
func fakeDNS(table map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, _, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range table[strings.TrimSuffix(host, ".")] {
			out = append(out, netip.MustParseAddr(s))
		}
		if len(out) == 0 {
			return nil, errors.New("no such host")
		}
		return out, nil
	}
}

// checkURL runs the subscribe-time checks: the domain's URL rules, then the
// guard's address rule.
func checkURL(g *Guard, raw string) error {
	v := assistloop.Invalid()
	u := assistloop.ParseTargetURL(v, raw)
	if err := v.Err(); err != nil {
		return err
	}
	return g.CheckTarget(context.Background(), u)
}

func TestGuardCheckTarget(t *testing.T) {
	dns := fakeDNS(map[string][]string{
		"hook.eu1.make.com": {"3.120.1.2", "2a05:d014::1"},
		"loopback.example":  {"127.0.0.1"},
		"mixed.example":     {"93.184.216.34", "10.0.0.1"},
		"metadata.example":  {"169.254.169.254"},
	})
	strict := NewGuard(false).WithLookup(dns)
	tests := []struct {
		url     string
		allowed bool
	}{
		{"https://hook.eu1.make.com/abcd1234", true},
		{"https://93.184.216.34/hook", true},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hook", true},
		{"https://127.0.0.1/hook", false},
		{"https://[::1]/hook", false},
		{"https://10.0.0.1/hook", false},
		{"https://169.254.169.254/latest/meta-data/", false},
		{"https://100.64.0.1/hook", false},
		{"https://[::ffff:127.0.0.1]/hook", false},
		{"https://[::ffff:10.0.0.1]/hook", false},
		{"https://[fe80::1]/hook", false},
		{"https://[fd00:ec2::254]/", false},
		{"https://0.0.0.0/", false},
		{"https://224.0.0.1/", false},
		{"http://hook.eu1.make.com/abcd1234", false},
		{"http://127.0.0.1/hook", false},
		{"https://loopback.example/hook", false},
		{"https://mixed.example/hook", false},
		{"https://metadata.example/hook", false},
		{"https://does-not-resolve.example/hook", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := checkURL(strict, tt.url)
			if got := err == nil; got != tt.allowed {
				t.Fatalf("allowed = %v (%v), want %v", got, err, tt.allowed)
			}
			if err != nil {
				if e := assistloop.ErrorOf(err); e.Code != assistloop.EINVALID || len(e.Fields["target_url"]) == 0 {
					t.Errorf("error %v, want EINVALID on target_url", err)
				}
			}
		})
	}
}

// TestGuardRealLoopbackName resolves "localhost" with the system resolver:
// a hostname resolving to loopback is refused.
func TestGuardRealLoopbackName(t *testing.T) {
	if err := checkURL(NewGuard(false), "https://localhost/hook"); err == nil {
		t.Fatal("https://localhost/hook accepted")
	}
}

// TestGuardAllowPrivate: WEBHOOK_ALLOW_PRIVATE_TARGETS lifts the address
// rule but not the HTTPS one.
func TestGuardAllowPrivate(t *testing.T) {
	g := NewGuard(true)
	for _, raw := range []string{"https://127.0.0.1/hook", "https://[::1]/", "https://localhost:8443/", "https://10.0.0.1/"} {
		if err := checkURL(g, raw); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
	if err := checkURL(g, "http://127.0.0.1/hook"); err == nil {
		t.Error("plain HTTP accepted with private targets allowed")
	}
}

func TestGuardControl(t *testing.T) {
	g := NewGuard(false)
	tests := []struct {
		network, address string
		allowed          bool
	}{
		{"tcp4", "93.184.216.34:443", true},
		{"tcp6", "[2606:2800:220:1:248:1893:25c8:1946]:443", true},
		{"tcp4", "127.0.0.1:443", false},
		{"tcp6", "[::1]:443", false},
		{"tcp6", "[::ffff:127.0.0.1]:443", false},
		{"tcp4", "169.254.169.254:80", false},
		{"tcp4", "100.64.0.1:443", false},
		{"tcp4", "10.0.0.1:443", false},
		{"udp4", "93.184.216.34:443", false},
	}
	for _, tt := range tests {
		err := g.Control(tt.network, tt.address, nil)
		if got := err == nil; got != tt.allowed {
			t.Errorf("%s %s: allowed = %v (%v), want %v", tt.network, tt.address, got, err, tt.allowed)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: error %v does not wrap ErrForbiddenAddress", tt.address, err)
		}
	}
	if err := NewGuard(true).Control("tcp4", "127.0.0.1:443", nil); err != nil {
		t.Errorf("private targets allowed, still refused: %v", err)
	}
}

// TestClientRefusesAtConnectTime: the delivery client applies the rule
// when it connects, whatever the subscribe-time lookup said. The name
// passed the check (the fake DNS says it is public) but resolves to
// loopback when dialled, as in a DNS rebinding attack.
func TestClientRefusesAtConnectTime(t *testing.T) {
	hits := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits++ }))
	defer srv.Close()
	port := srv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":"):]
	rebinding := "https://localhost" + port + "/hook"

	guard := NewGuard(false).WithLookup(fakeDNS(map[string][]string{"localhost": {"93.184.216.34"}}))
	if err := checkURL(guard, rebinding); err != nil {
		t.Fatalf("subscribe-time check refused the public answer: %v", err)
	}
	u, _ := url.Parse(srv.URL)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := NewClient(guard, roots, 5*time.Second, 4)
	for _, target := range []string{rebinding, u.String() + "/hook"} {
		res := c.Send(context.Background(), testJob(target))
		if res.Err == nil || !strings.Contains(res.Err.Error(), "not allowed") || res.StatusCode != 0 {
			t.Errorf("%s: status %d, error %v; want a refused connection", target, res.StatusCode, res.Err)
		}
	}
	if hits != 0 {
		t.Errorf("the loopback receiver got %d requests", hits)
	}
	// The same client with private targets allowed gets through.
	open := NewClient(NewGuard(true), roots, 5*time.Second, 4)
	if res := open.Send(context.Background(), testJob(srv.URL+"/hook")); res.Err != nil || res.StatusCode != 200 {
		t.Errorf("allowed client: status %d, error %v", res.StatusCode, res.Err)
	}
}

func testJob(target string) *assistloop.DeliveryJob {
	return &assistloop.DeliveryJob{
		DeliveryID: uuid.New(), EventID: uuid.New(), Attempt: 1, Retry: 1, MaxAttempts: 4,
		SubscriptionID: "whk_test", Status: assistloop.WebhookActive, TargetURL: target,
		Secret: assistloop.NewWebhookSecret(), Payload: []byte(`{"id":"x"}`),
	}
}
