package playground

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// newMux mounts the playground the way the package comment documents.
func newMux(opts Options) *http.ServeMux {
	h := Handler(opts)
	mux := http.NewServeMux()
	mux.Handle("/playground", h)
	mux.Handle("/playground/", h)
	return mux
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var (
	scriptRE     = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	srcRE        = regexp.MustCompile(`(?i)\bsrc="([^"]*)"`)
	linkRE       = regexp.MustCompile(`(?i)<link\b[^>]*\bhref="([^"]*)"`)
	eventAttrRE  = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	styleAttrRE  = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=|<style\b`)
	styleNonceRE = regexp.MustCompile(`data-style-nonce="([^"]*)"`)
	// eval, new Function, Function("…") and string timers need 'unsafe-eval'.
	evalRE = regexp.MustCompile(`\beval\(|\bFunction\(|set(Timeout|Interval)\(\s*["'\x60]`)
)

func TestPage(t *testing.T) {
	mux := newMux(Options{Title: "AssistLoop", Endpoint: "/graphql"})
	for _, target := range []string{"/playground", "/playground/"} {
		t.Run(target, func(t *testing.T) {
			rec := get(t, mux, target)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", target, rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", cc)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			for _, want := range []string{
				"default-src 'none'",
				"script-src 'self';",
				"connect-src 'self' ws: wss:",
				"frame-ancestors 'none'",
			} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			for _, bad := range []string{"unsafe-eval", "unsafe-inline", "http:", "https:", "*"} {
				if strings.Contains(csp, bad) {
					t.Errorf("CSP %q contains %q", csp, bad)
				}
			}

			body := rec.Body.String()
			if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Errorf("page contains an absolute URL:\n%s", body)
			}
			scripts := scriptRE.FindAllStringSubmatch(body, -1)
			if len(scripts) == 0 {
				t.Fatalf("page has no <script>:\n%s", body)
			}
			for _, s := range scripts {
				if strings.TrimSpace(s[2]) != "" || !srcRE.MatchString(s[1]) {
					t.Errorf("inline script in page: %s", s[0])
				}
			}
			if m := eventAttrRE.FindString(body); m != "" {
				t.Errorf("inline event handler in page: %s", m)
			}
			if m := styleAttrRE.FindString(body); m != "" {
				t.Errorf("inline style in page: %s", m)
			}
			for _, want := range []string{`id="graphiql"`, `data-endpoint="/graphql"`, `data-title="AssistLoop"`, "<title>AssistLoop</title>"} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}

			// The style nonce is fresh per response and matches the CSP.
			m := styleNonceRE.FindStringSubmatch(body)
			if m == nil || len(m[1]) < 16 {
				t.Fatalf("page has no usable data-style-nonce: %v", m)
			}
			if !strings.Contains(csp, "style-src 'self' 'nonce-"+m[1]+"'") {
				t.Errorf("CSP %q does not allow the page's style nonce %q", csp, m[1])
			}
			if again := styleNonceRE.FindStringSubmatch(get(t, mux, target).Body.String()); again == nil || again[1] == m[1] {
				t.Errorf("style nonce repeated across responses: %q", m[1])
			}
		})
	}
}

func TestPageLinksServed(t *testing.T) {
	mux := newMux(Options{})
	for _, target := range []string{"/playground", "/playground/"} {
		body := get(t, mux, target).Body.String()
		var refs []string
		for _, s := range scriptRE.FindAllStringSubmatch(body, -1) {
			refs = append(refs, srcRE.FindStringSubmatch(s[1])[1])
		}
		links := linkRE.FindAllStringSubmatch(body, -1)
		for _, l := range links {
			refs = append(refs, l[1])
		}
		if len(refs) != 6 || len(links) != 2 {
			t.Fatalf("GET %s: want 4 scripts and 2 style sheets, got %q", target, refs)
		}
		for _, ref := range refs {
			if !strings.HasPrefix(ref, "/playground/assets/") {
				t.Errorf("asset URL %q is not under /playground/assets/", ref)
			}
			rec := get(t, mux, ref)
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: status %d", ref, rec.Code)
				continue
			}
			ct := rec.Header().Get("Content-Type")
			path := ref[:strings.IndexByte(ref, '?')]
			switch {
			case strings.HasSuffix(path, ".js") && strings.HasPrefix(ct, "text/javascript"):
			case strings.HasSuffix(path, ".css") && strings.HasPrefix(ct, "text/css"):
			default:
				t.Errorf("GET %s: Content-Type %q", ref, ct)
			}
			if n := rec.Body.Len(); n < 256 {
				t.Errorf("GET %s: only %d bytes", ref, n)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("GET %s: Cache-Control %q", ref, cc)
			}
			if rec.Header().Get("ETag") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: headers %v", ref, rec.Header())
			}
		}
	}
}

func TestAssetNotFound(t *testing.T) {
	h := Handler(Options{})
	mux := newMux(Options{})
	for _, target := range []string{
		"/playground/assets/nope.js",
		"/playground/assets/",
		"/playground/assets/VERSIONS",      // embedded, not served
		"/playground/assets/update.sh",     // embedded, not served
		"/playground/assets/LICENSE-react", // embedded, not served
		"/playground/assets/graphiql.min.js.map",
		"/playground/index.html",
		"/playground/assets/x/../init.js",
	} {
		if rec := get(t, h, target); rec.Code != http.StatusNotFound {
			t.Errorf("handler GET %s: status %d, want 404", target, rec.Code)
		}
	}
	if rec := get(t, mux, "/playground/assets/nope.css"); rec.Code != http.StatusNotFound {
		t.Errorf("mux GET unknown asset: status %d, want 404", rec.Code)
	}
}

func TestAssetCaching(t *testing.T) {
	mux := newMux(Options{})
	a := loadAssets()["init.js"]

	// A URL without (or with a stale) content hash must be revalidated.
	for _, target := range []string{"/playground/assets/init.js", "/playground/assets/init.js?v=old"} {
		rec := get(t, mux, target)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: status %d, Cache-Control %q", target, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}

	rec := get(t, mux, "/playground/assets/init.js?v="+a.version)
	etag := rec.Header().Get("ETag")
	rec = get(t, mux, "/playground/assets/init.js?v="+a.version, "If-None-Match", etag)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: status %d, %d bytes", etag, rec.Code, rec.Body.Len())
	}
}

func TestAssetGzip(t *testing.T) {
	mux := newMux(Options{})
	a := loadAssets()["graphiql.min.js"]
	target := "/playground/assets/graphiql.min.js?v=" + a.version

	rec := get(t, mux, target, "Accept-Encoding", "br, gzip")
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip not used: %v", rec.Header())
	}
	if rec.Body.Len() >= len(a.body)/2 {
		t.Errorf("gzip body %d bytes for %d plain", rec.Body.Len(), len(a.body))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, a.body) {
		t.Errorf("gunzipped body differs (err %v)", err)
	}

	for _, ae := range []string{"", "identity", "gzip;q=0", "br"} {
		rec := get(t, mux, target, "Accept-Encoding", ae)
		if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), a.body) {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", ae, rec.Header().Get("Content-Encoding"))
		}
	}
}

func TestMethods(t *testing.T) {
	mux := newMux(Options{})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/playground/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/playground", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// Other mountings: behind http.StripPrefix, and at another base path.
func TestMounting(t *testing.T) {
	stripped := http.NewServeMux()
	stripped.Handle("/playground/", http.StripPrefix("/playground", Handler(Options{})))
	stripped.Handle("/playground", http.StripPrefix("/playground", Handler(Options{})))

	custom := http.NewServeMux()
	custom.Handle("/tools/graphiql/", Handler(Options{BasePath: "tools/graphiql/"}))

	root := Handler(Options{BasePath: "/"})

	for _, tc := range []struct {
		name   string
		h      http.Handler
		page   string
		prefix string
	}{
		{"StripPrefix", stripped, "/playground", "/playground/assets/"},
		{"StripPrefix slash", stripped, "/playground/", "/playground/assets/"},
		{"BasePath", custom, "/tools/graphiql/", "/tools/graphiql/assets/"},
		{"root", root, "/", "/assets/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, tc.h, tc.page)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d", tc.page, rec.Code)
			}
			srcs := srcRE.FindAllStringSubmatch(rec.Body.String(), -1)
			if len(srcs) == 0 {
				t.Fatal("no <script src>")
			}
			for _, s := range srcs {
				if !strings.HasPrefix(s[1], tc.prefix) {
					t.Errorf("src %q not under %s", s[1], tc.prefix)
				}
				if rec := get(t, tc.h, s[1]); rec.Code != http.StatusOK {
					t.Errorf("GET %s: status %d", s[1], rec.Code)
				}
			}
		})
	}
}

func TestOptionsEscapedAndCSP(t *testing.T) {
	mux := newMux(Options{
		Title:                `<script>alert("x")</script>`,
		Endpoint:             `https://api.example.com/graphql"><b>`,
		SubscriptionEndpoint: "wss://api.example.com/graphql",
	})
	rec := get(t, mux, "/playground/")
	body := rec.Body.String()
	if strings.Contains(body, `<script>alert`) || strings.Contains(body, `"><b>`) {
		t.Errorf("options not escaped:\n%s", body)
	}
	if !strings.Contains(body, `data-subscription-endpoint="wss://api.example.com/graphql"`) {
		t.Errorf("subscription endpoint missing:\n%s", body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' ws: wss: https://api.example.com;") {
		t.Errorf("CSP %q does not allow the endpoint's origin", csp)
	}
}

// TestVendoredFiles checks the embedded bundles against assets/VERSIONS and
// the properties the page and its CSP rely on, so that a run of update.sh
// that brings an incompatible GraphiQL fails here.
func TestVendoredFiles(t *testing.T) {
	versions, err := embedded.ReadFile("assets/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	sc := bufio.NewScanner(bytes.NewReader(versions))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "file" {
			continue
		}
		files++
		data, err := embedded.ReadFile("assets/" + f[1])
		if err != nil {
			t.Errorf("VERSIONS lists %s: %v", f[1], err)
			continue
		}
		sum := sha256.Sum256(data)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != f[3] {
			t.Errorf("%s: %s, VERSIONS says %s", f[1], got, f[3])
		}
	}
	if files < 4 {
		t.Errorf("VERSIONS lists %d files", files)
	}
	if !regexp.MustCompile(`(?m)^package graphiql 3\.\d+\.\d+ sha512-`).Match(versions) {
		t.Errorf("VERSIONS has no graphiql 3.x package line")
	}

	js := string(loadAssets()["graphiql.min.js"].body)
	for _, want := range []string{
		`.GraphiQL=t(e.React,e.ReactDOM)`, // UMD: React and ReactDOM are its only globals
		"graphql-transport-ws",            // graphql-ws is bundled
		"wsConnectionParams",              // createFetcher's WebSocket options
		"__webpack_nonce__",               // the <style> nonce hook init.js sets
	} {
		if !strings.Contains(js, want) {
			t.Errorf("graphiql.min.js lacks %q", want)
		}
	}
	for _, name := range []string{"graphiql.min.js", "react.production.min.js", "react-dom.production.min.js", "init.js"} {
		src := string(loadAssets()[name].body)
		if m := evalRE.FindString(src); m != "" {
			t.Errorf("%s contains %q: the CSP would need 'unsafe-eval'", name, m)
		}
	}
}
