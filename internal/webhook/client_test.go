package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *Client) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return srv, NewClient(NewGuard(true), roots, 5*time.Second, 4)
}

// TestClientNoRedirects: a redirect is a failed attempt; its target is not
// requested.
func TestClientNoRedirects(t *testing.T) {
	followed := false
	srv, c := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	res := c.Send(context.Background(), testJob(srv.URL+"/hook"))
	if res.StatusCode != http.StatusTemporaryRedirect || res.Err == nil || !strings.Contains(res.Err.Error(), "redirect") {
		t.Errorf("status %d, error %v", res.StatusCode, res.Err)
	}
	if followed {
		t.Error("the redirect was followed")
	}
}

// TestClientReadsAtMost64KiB: a receiver streaming an endless body does
// not hold the attempt: the client stops after 64 KiB, long before the
// attempt's timeout.
func TestClientReadsAtMost64KiB(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	written := make(chan int64, 1)
	srv, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 4096))
		var n int64
		defer func() { written <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	const timeout = 20 * time.Second
	c := NewClient(NewGuard(true), roots, timeout, 4)
	res := c.Send(context.Background(), testJob(srv.URL+"/hook"))
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, error %v", res.StatusCode, res.Err)
	}
	if res.Latency >= timeout {
		t.Errorf("the attempt lasted its whole timeout: the body was read to the end")
	}
}

// TestClientRequest checks the request a receiver sees.
func TestClientRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv, c := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	job := testJob(srv.URL + "/hook?x=1")
	res := c.Send(context.Background(), job)
	if res.StatusCode != 429 || res.RetryAfter != 7*time.Second || res.Err == nil {
		t.Errorf("status %d, Retry-After %v, error %v", res.StatusCode, res.RetryAfter, res.Err)
	}
	if got.Method != http.MethodPost || got.URL.RawQuery != "x=1" || string(body) != string(job.Payload) {
		t.Errorf("request %s %s with %q", got.Method, got.URL, body)
	}
	for _, h := range []string{HeaderID, HeaderTimestamp, HeaderSignature, "User-Agent"} {
		if got.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if got.Header.Get(HeaderID) != job.EventID.String() {
		t.Errorf("webhook-id %s, want the event id %s", got.Header.Get(HeaderID), job.EventID)
	}
}
