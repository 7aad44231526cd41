package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"code.dny.dev/ssrf"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Guard keeps webhook deliveries away from the service's own network:
// targets must be HTTPS (checked by the domain) and, unless private targets
// are allowed, every address they resolve to must be public. The rule is
// applied twice: when a subscription is made (CheckTarget), and on every
// connection the delivery client opens (Control), so a hostname that
// resolves elsewhere later (DNS rebinding) is still refused.
type Guard struct {
	allowPrivate bool
	ssrf         *ssrf.Guardian
	// lookup resolves a hostname for CheckTarget.
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NewGuard returns the guard. allowPrivate (WEBHOOK_ALLOW_PRIVATE_TARGETS)
// lifts the address rule, for local testing; HTTPS stays required.
func NewGuard(allowPrivate bool) *Guard {
	return &Guard{
		allowPrivate: allowPrivate,
		// Any port: Make's hooks live on 443, but the rule is about
		// addresses. Refused: loopback, RFC 1918, link-local (and so the
		// 169.254.169.254 metadata service), CGNAT 100.64/10, multicast,
		// reserved and documentation ranges, and for IPv6 everything
		// outside global unicast (::1, fe80::/10, fc00::/7, IPv4-mapped).
		ssrf:   ssrf.New(ssrf.WithAnyPort()),
		lookup: net.DefaultResolver.LookupNetIP,
	}
}

// WithLookup returns a copy of g that resolves hostnames with lookup (tests
// use it to simulate DNS answers).
func (g *Guard) WithLookup(lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)) *Guard {
	c := *g
	c.lookup = lookup
	return &c
}

// resolveTimeout bounds the subscribe-time DNS lookup.
const resolveTimeout = 5 * time.Second

// CheckTarget implements assistloop.TargetGuard.
func (g *Guard) CheckTarget(ctx context.Context, u *url.URL) error {
	if g.allowPrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
		addrs, err = g.lookup(ctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return assistloop.InvalidField("target_url", "The target url host could not be resolved.")
		}
	}
	for _, ip := range addrs {
		if err := g.CheckAddr(ip); err != nil {
			return assistloop.InvalidField("target_url",
				"The target url must not point to a loopback, private, link-local or otherwise reserved address.")
		}
	}
	return nil
}

// ErrForbiddenAddress is the error of a connection the guard refused.
var ErrForbiddenAddress = errors.New("target address not allowed")

// CheckAddr returns ErrForbiddenAddress (wrapped) for an address deliveries
// may not reach.
func (g *Guard) CheckAddr(ip netip.Addr) error {
	if g.allowPrivate {
		return nil
	}
	if ip.Zone() != "" {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	if err := g.ssrf.SafeAddr(ip); err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

// Control is a net.Dialer Control function: it vets the address the dialer
// is about to connect to, after DNS resolution, so it sees what is really
// dialled.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.allowPrivate {
		return nil
	}
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return g.CheckAddr(ap.Addr())
}
