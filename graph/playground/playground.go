// Package playground serves GraphiQL, an in-browser GraphQL IDE, entirely
// from files embedded in the binary: no CDN or other external URL is used at
// run time. The vendored bundles (GraphiQL 3 UMD, React 18, ReactDOM 18) and
// their versions and npm integrity hashes are in assets/VERSIONS;
// assets/update.sh re-downloads them.
//
// Queries and mutations go to Options.Endpoint as HTTP POST; subscriptions
// use graphql-transport-ws (graphql-ws, bundled in GraphiQL) on
// Options.SubscriptionEndpoint, derived in the browser from the page's
// location and Endpoint when empty (http→ws, https→wss). The headers editor
// starts with {"Authorization": "Bearer <paste your access token>"} and is
// kept in the browser's localStorage; the headers it holds are sent with
// every HTTP request and as the WebSocket connection_init payload, and the
// schema is introspected again when the token changes.
//
// Mount the handler on the base path and on its subtree, outside any
// authentication middleware (a browser cannot attach a bearer token when it
// navigates to the page; the GraphQL endpoint still checks every request):
//
//	pg := playground.Handler(playground.Options{
//		Title:    "AssistLoop GraphQL",
//		Endpoint: "/graphql",
//	})
//	mux.Handle("/playground", pg)
//	mux.Handle("/playground/", pg)
//
// chi's r.Mount("/playground", pg) and
// mux.Handle("/playground/", http.StripPrefix("/playground", pg)) work too.
// The page links its assets by absolute path under Options.BasePath
// (default "/playground"), so /playground and /playground/ both work; set
// BasePath when mounting elsewhere.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed assets/*
var embedded embed.FS

// Defaults for the zero values of Options.
const (
	DefaultTitle    = "GraphiQL"
	DefaultEndpoint = "/graphql"
	DefaultBasePath = "/playground"
)

// Options configure the playground.
type Options struct {
	// Title is the page title and the logo text. Default DefaultTitle.
	Title string
	// Endpoint is the GraphQL HTTP endpoint, a path such as "/graphql"
	// (resolved against the page's origin) or an absolute http(s) URL.
	// Default DefaultEndpoint.
	Endpoint string
	// SubscriptionEndpoint is the WebSocket endpoint for subscriptions.
	// When empty the browser derives it from Endpoint and its location:
	// ws(s)://host + Endpoint.
	SubscriptionEndpoint string
	// BasePath is the URL path the handler is mounted at; the page's asset
	// URLs are built from it. Default DefaultBasePath; "/" for the root.
	BasePath string
}

// contentTypes lists the asset types that are served; other embedded
// files (VERSIONS, update.sh, licences) are not.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// asset is one servable embedded file.
type asset struct {
	contentType string
	body        []byte
	version     string // content hash; the ?v= of the page's URL
	etag        string

	gzipOnce sync.Once
	gzipBody []byte
	gzipETag string
}

// gzipped returns the body gzip-compressed, computed on first use.
func (a *asset) gzipped() ([]byte, string) {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.body) // writes to a bytes.Buffer do not fail
		zw.Close()
		a.gzipBody = buf.Bytes()
		a.gzipETag = `"` + a.version + `-gz"`
	})
	return a.gzipBody, a.gzipETag
}

var loadAssets = sync.OnceValue(func() map[string]*asset {
	entries, err := fs.ReadDir(embedded, "assets")
	if err != nil {
		panic(fmt.Sprintf("playground: embedded assets: %v", err))
	}
	m := make(map[string]*asset, len(entries))
	for _, e := range entries {
		ct, ok := contentTypes[path.Ext(e.Name())]
		if !ok || e.IsDir() {
			continue
		}
		body, err := embedded.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("playground: embedded asset %s: %v", e.Name(), err))
		}
		sum := sha256.Sum256(body)
		v := hex.EncodeToString(sum[:8])
		m[e.Name()] = &asset{contentType: ct, body: body, version: v, etag: `"` + v + `"`}
	}
	return m
})

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Asset "graphiql.min.css"}}">
<link rel="stylesheet" href="{{.Asset "playground.css"}}">
</head>
<body>
<div id="graphiql" data-title="{{.Title}}" data-endpoint="{{.Endpoint}}" data-subscription-endpoint="{{.SubscriptionEndpoint}}" data-style-nonce="{{.StyleNonce}}">Loading…</div>
<noscript><p class="playground-noscript">The GraphQL playground needs JavaScript.</p></noscript>
<script src="{{.Asset "react.production.min.js"}}"></script>
<script src="{{.Asset "react-dom.production.min.js"}}"></script>
<script src="{{.Asset "graphiql.min.js"}}"></script>
<script src="{{.Asset "init.js"}}"></script>
</body>
</html>
`))

// pageData is what the page template renders.
type pageData struct {
	Options
	StyleNonce string
	assets     map[string]*asset
}

// Asset returns the URL of the named embedded asset. The ?v= content hash
// changes whenever the file does, so the URL can be cached as immutable.
func (d pageData) Asset(name string) (string, error) {
	a, ok := d.assets[name]
	if !ok {
		return "", fmt.Errorf("playground: no embedded asset %q", name)
	}
	return d.BasePath + "/assets/" + name + "?v=" + a.version, nil
}

type handler struct {
	opts    Options
	assets  map[string]*asset
	connect string // connect-src sources
}

// Handler returns the playground: the page at the base path (with or
// without a trailing slash) and the embedded files under
// <base>/assets/. Only GET and HEAD are allowed.
func Handler(opts Options) http.Handler {
	if opts.Title == "" {
		opts.Title = DefaultTitle
	}
	if opts.Endpoint == "" {
		opts.Endpoint = DefaultEndpoint
	}
	opts.BasePath = cleanBasePath(opts.BasePath)

	h := &handler{opts: opts, assets: loadAssets(), connect: connectSources(opts)}
	// Fail at start-up, not per request, on a template or asset mistake.
	if _, err := h.render("nonce"); err != nil {
		panic(err)
	}
	return h
}

// render executes the page template with a style nonce.
func (h *handler) render(nonce string) ([]byte, error) {
	var buf bytes.Buffer
	err := page.Execute(&buf, pageData{Options: h.opts, StyleNonce: nonce, assets: h.assets})
	return buf.Bytes(), err
}

// cleanBasePath returns p as "/a/b" with no trailing slash, "" for the
// root, and DefaultBasePath when p is empty.
func cleanBasePath(p string) string {
	if p == "" {
		return DefaultBasePath
	}
	p = path.Clean("/" + p)
	if p == "/" {
		return ""
	}
	return p
}

// contentSecurityPolicy is the page's policy, as strict as GraphiQL 3
// allows:
//   - scripts only from this origin: the bundles use no eval or
//     new Function, and the bootstrap is assets/init.js, not inline;
//   - style sheets from this origin, plus <style> elements carrying the
//     per-response nonce: the only inline style GraphiQL needs is the
//     scroll lock that Radix UI (react-remove-scroll) injects while a
//     dialog or menu is open, which takes its nonce from
//     window.__webpack_nonce__ (set by init.js). React and CodeMirror
//     set styles through the CSSOM, which CSP does not restrict, so
//     neither 'unsafe-inline' nor style attributes are allowed;
//   - fonts and images from this origin or data: (the style sheet
//     embeds its fonts and images as data: URLs);
//   - fetch/WebSocket to this origin, to any ws:/wss: endpoint (the
//     subscription endpoint may be derived in the browser) and to the
//     origin of an absolute http(s) Endpoint/SubscriptionEndpoint;
//   - nothing else: no frames, objects, forms, <base> or framing.
func (h *handler) contentSecurityPolicy(nonce string) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'nonce-" + nonce + "'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + h.connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// connectSources lists the connect-src sources for opts.
func connectSources(opts Options) string {
	connect := []string{"'self'", "ws:", "wss:"}
	for _, e := range []string{opts.Endpoint, opts.SubscriptionEndpoint} {
		if o := httpOrigin(e); o != "" && !contains(connect, o) {
			connect = append(connect, o)
		}
	}
	return strings.Join(connect, " ")
}

// httpOrigin returns scheme://host of an absolute http(s) URL, or "".
func httpOrigin(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	// Mounted as is, the path still has the base; behind http.StripPrefix
	// it does not.
	p := r.URL.Path
	if h.opts.BasePath != "" && (p == h.opts.BasePath || strings.HasPrefix(p, h.opts.BasePath+"/")) {
		p = p[len(h.opts.BasePath):]
	}
	switch {
	case p == "" || p == "/":
		h.servePage(w, r)
	case strings.HasPrefix(p, "/assets/"):
		a, ok := h.assets[p[len("/assets/"):]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serveAsset(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	var n [18]byte
	if _, err := rand.Read(n[:]); err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	body, err := h.render(nonce)
	if err != nil { // checked by Handler; cannot happen
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", h.contentSecurityPolicy(nonce))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Not the URL the page links: the content may change under it.
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.etag
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = a.gzipped()
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		hd.Del("Content-Type")
		hd.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// etagMatches implements If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
