package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/assistloop/assistloop/internal/blobstore"
)

// uploadServer is a server with a 64 KiB file limit and its blobs in a
// directory of the test's own.
func uploadServer(t *testing.T, w *world) (*world, string) {
	t.Helper()
	dir := t.TempDir()
	blobURL, err := blobstore.FileURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, w.db, map[string]string{"RATE_LIMIT_WINDOW": "1ms", "UPLOAD_MAX_BYTES": strconv.Itoa(64 << 10), "BLOB_URL": blobURL})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &world{db: w.db, app: a, srv: srv, A: w.A, B: w.B}, dir
}

// blobFiles lists the files under dir.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// countingReader counts what the client sent.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestUploadLimits: files above the limit are 413 and files whose bytes
// are not an allowed type 415, whatever the client claims; the server
// stops reading a body it refuses, and a refused upload leaves neither a
// blob nor a row behind, even for the files of the request it had stored.
func TestUploadLimits(t *testing.T) {
	shared, ws := convWorkspace(t)
	w, dir := uploadServer(t, shared)
	conv, _ := startConversation(t, w, ws, "Uploader", "", "files")
	attachments := func() int {
		var n int
		if err := w.db.NewRaw("SELECT count(*) FROM attachments WHERE conversation_id = ?", conv).Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	big := bytes.Repeat([]byte("a"), 64<<10+1)
	exact := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 64<<10-len(pngBytes))...)

	tests := []struct {
		name   string
		files  []filePart
		status int
		want   string
	}{
		{"html claiming to be a png", []filePart{{"fileAttachment", "cat.png", "image/png", htmlPage}}, 415,
			`{"error":"Unsupported media type","message":"The file type is not allowed. Allowed: JPG, PNG, GIF, WEBP, MP4, MPEG, WEBM, MP3, WAV, OGG, AIFF, PDF, ZIP, RAR, DOC, DOCX and TXT."}`},
		{"an executable claiming to be a pdf", []filePart{{"fileAttachment", "doc.pdf", "application/pdf", []byte("MZ\x90\x00\x03\x00\x00\x00\x04")}}, 415, ""},
		{"svg", []filePart{{"fileAttachment", "x.svg", "image/svg+xml", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>`)}}, 415, ""},
		{"a good file then a bad one", []filePart{{"fileAttachment", "ok.png", "", pngBytes}, {"fileAttachment", "bad.html", "", htmlPage}}, 415, ""},
		{"one byte above the limit", []filePart{{"fileAttachment", "big.txt", "text/plain", big}}, 413,
			`{"error":"Payload too large","message":"A file may not be larger than 64 KiB."}`},
		{"a good file then a big one", []filePart{{"fileAttachment", "ok.pdf", "", pdfBytes}, {"fileAttachment", "big.txt", "", big}}, 413, ""},
		{"empty file", []filePart{{"fileAttachment", "empty.txt", "", nil}}, 422,
			`{"error":"Validation error","message":"The file is empty.","errors":{"fileAttachment":["The file is empty."]}}`},
		{"no file", nil, 422, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := upload(t, w, ws.Token, ws.OrgID, conv, tt.files...)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.want != "" && compact(t, r.Body) != tt.want {
				t.Errorf("body %s, want %s", r.Body, tt.want)
			}
			if n := attachments(); n != 0 {
				t.Errorf("%d attachment rows left behind", n)
			}
			if files := blobFiles(t, dir); len(files) != 0 {
				t.Errorf("blobs left behind: %v", files)
			}
		})
	}

	// Exactly the limit is fine, and a lying Content-Type is ignored: the
	// stored type is what the bytes are.
	r := upload(t, w, ws.Token, ws.OrgID, conv, filePart{"fileAttachment", "photo.txt", "text/plain", exact})
	if r.Status != 200 || !contains(r.Body, `"contentType":"image/png"`) || !contains(r.Body, `"size":65536`) {
		t.Fatalf("a file of exactly the limit: %d %s", r.Status, r.Body)
	}
	if len(blobFiles(t, dir)) != 1 || attachments() != 1 {
		t.Errorf("the accepted file: %d blobs, %d rows", len(blobFiles(t, dir)), attachments())
	}
	id := uploadedIDs(t, r)[0]
	dl := rawGet(t, w, ws.Token, "/v1/conversations/messages/attachments/"+id)
	if dl.Status != 200 || !bytes.Equal(dl.Body, exact) || dl.Header.Get("Content-Type") != "image/png" ||
		dl.Header.Get("X-Content-Type-Options") != "nosniff" || dl.Header.Get("Content-Disposition") != "attachment; filename=photo.txt" {
		t.Errorf("download: %d %v", dl.Status, dl.Header)
	}
}

// TestUploadRefusedUnread: the server refuses a body larger than the
// upload limit without reading it all, both when the Content-Length says
// so and when it only shows while streaming.
func TestUploadRefusedUnread(t *testing.T) {
	shared, ws := convWorkspace(t)
	w, dir := uploadServer(t, shared)
	conv, _ := startConversation(t, w, ws, "Streamer", "", "big files")
	const size = 256 << 20 // far more than any socket buffer holds

	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			var head bytes.Buffer
			mw := multipart.NewWriter(&head)
			_ = mw.WriteField("locationId", ws.OrgID)
			_ = mw.WriteField("conversationId", conv)
			if _, err := mw.CreateFormFile("fileAttachment", "huge.txt"); err != nil {
				t.Fatal(err)
			}
			tail := "\r\n--" + mw.Boundary() + "--\r\n"
			body := &countingReader{r: io.MultiReader(bytes.NewReader(head.Bytes()), io.LimitReader(zeros{}, size), bytes.NewReader([]byte(tail)))}
			req, err := http.NewRequest(http.MethodPost, w.srv.URL+"/v1/conversations/messages/upload", body)
			if err != nil {
				t.Fatal(err)
			}
			if !chunked {
				req.ContentLength = int64(head.Len()) + size + int64(len(tail))
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+ws.Token)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d, want 413: %s", resp.StatusCode, data)
				}
			} else {
				// The server may close the connection before the client
				// reads the 413; what matters is that it stopped reading.
				t.Logf("client: %v", err)
			}
			if sent := body.n.Load(); sent >= size/2 {
				t.Errorf("the client sent %d of %d bytes: the server read the refused body", sent, size)
			}
			if files := blobFiles(t, dir); len(files) != 0 {
				t.Errorf("blobs left behind: %v", files)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z' // text: an allowed type, refused for its size only
	}
	return len(p), nil
}

// TestAttachmentDownloadTenancy: an attachment is readable by members of
// its workspace only (404 otherwise, like a missing one), needs
// read:messages, and shows the stored type, never sniffed by browsers.
func TestAttachmentDownloadTenancy(t *testing.T) {
	w, ws := convWorkspace(t)
	conv, _ := startConversation(t, w, ws, "Downloader", "", "files")
	id := uploadedIDs(t, upload(t, w, ws.Token, ws.OrgID, conv, filePart{"fileAttachment", "r.pdf", "text/html", pdfBytes}))[0]
	path := "/v1/conversations/messages/attachments/" + id
	own := rawGet(t, w, ws.Token, path)
	if own.Status != 200 || !bytes.Equal(own.Body, pdfBytes) || own.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("own download: %d %v", own.Status, own.Header)
	}
	foreign := do(t, w.srv.URL, request{Path: path, Token: w.B.Token})
	missing := do(t, w.srv.URL, request{Path: "/v1/conversations/messages/attachments/att_00000000000000000000", Token: w.B.Token})
	if foreign.Status != 404 || string(foreign.Body) != string(missing.Body) || contains(foreign.Body, "r.pdf") {
		t.Errorf("foreign download: %d %s (missing: %s)", foreign.Status, foreign.Body, missing.Body)
	}
	noScope := do(t, w.srv.URL, request{Path: path, Token: w.token(t, ws.UserID, nil, "read:conversations")})
	if noScope.Status != 403 {
		t.Errorf("without read:messages: %d", noScope.Status)
	}
	if r := rawGet(t, w, "", path); r.Status != 401 {
		t.Errorf("without a token: %d", r.Status)
	}
}
