package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// maxResponseRead is how much of a response body the client reads (and
// discards) before closing it: enough to reuse the connection after a
// typical answer, never enough to matter.
const maxResponseRead = 64 << 10

// userAgent identifies deliveries.
const userAgent = "AssistLoop-Webhooks/1.0 (+https://assistloop.ai)"

// Client sends signed webhook requests.
type Client struct {
	http    *http.Client
	timeout time.Duration
	now     func() time.Time
}

// NewClient returns a client that connects only where guard allows, never
// follows redirects, trusts rootCAs (nil: the system roots, which honour
// SSL_CERT_FILE) and gives each attempt timeout. conns bounds the idle
// connections kept per host.
func NewClient(guard *Guard, rootCAs *x509.CertPool, timeout time.Duration, conns int) *Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guard.Control}
	tr := &http.Transport{
		Proxy:               nil, // a proxy would be dialled instead of the target, defeating the guard
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: rootCAs},
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        4 * conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{
		http: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		timeout: timeout,
		now:     time.Now,
	}
}

// Response is what an attempt got back.
type Response struct {
	AttemptedAt time.Time
	Latency     time.Duration
	StatusCode  int           // 0: no response
	RetryAfter  time.Duration // from a Retry-After header
	Err         error         // transport failure, or a non-2xx status
}

// Send makes one attempt at the job: a POST of the stored payload, signed
// per Standard Webhooks with the event id as webhook-id. Its error is the
// context's only when ctx itself ended before a status arrived (not the
// attempt's own timeout).
func (c *Client) Send(ctx context.Context, job *assistloop.DeliveryJob) Response {
	start := c.now()
	res := Response{AttemptedAt: start}
	id := job.EventID.String()
	sig, err := Sign(job.Secret, id, start, job.Payload)
	if err != nil {
		res.Err = err
		return res
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, job.TargetURL, bytes.NewReader(job.Payload))
	if err != nil {
		res.Err = errors.New("invalid target URL")
		return res
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(start.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)

	resp, err := c.http.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
		resp.Body.Close()
		res.StatusCode = resp.StatusCode
		res.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	res.Latency = c.now().Sub(start)
	switch {
	case ctx.Err() != nil && res.StatusCode == 0:
		res.Err = ctx.Err()
	case err != nil && res.StatusCode >= 200 && res.StatusCode < 300:
		// The status arrived; a body cut short does not undo it.
		res.Err = nil
	case err != nil:
		res.Err = describe(err, c.timeout)
	case res.StatusCode >= 300 && res.StatusCode < 400:
		res.Err = fmt.Errorf("redirect not followed (HTTP %d)", res.StatusCode)
	case res.StatusCode < 200 || res.StatusCode >= 300:
		res.Err = fmt.Errorf("HTTP %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	return res
}

// describe turns a transport error into a sentence for the delivery log,
// without the method and URL net/http puts in front.
func describe(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Errorf("timeout: no complete response within %s", timeout)
	case errors.Is(err, ErrForbiddenAddress):
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			return oe.Err
		}
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
