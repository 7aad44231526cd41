package blobstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/blobstore"
)

// failing yields some bytes, then an error (a size limit, a client gone).
type failing struct{ n int }

var errBoom = errors.New("boom")

func (f *failing) Read(p []byte) (int, error) {
	if f.n >= 3 {
		return 0, errBoom
	}
	f.n++
	return copy(p, "chunk"), nil
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStore: written blobs read back; a write whose reader fails stores
// nothing (not even a temporary file) and returns the reader's error;
// deleting a missing blob is fine.
func TestStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs") // created by Open
	u, err := blobstore.FileURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := blobstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	n, err := s.Write(ctx, "org_a/att_1", "text/plain", strings.NewReader("hello"))
	if err != nil || n != 5 {
		t.Fatalf("write: %d %v", n, err)
	}
	r, err := s.Read(ctx, "org_a/att_1")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if string(data) != "hello" {
		t.Errorf("read %q", data)
	}

	if _, err := s.Write(ctx, "org_a/att_2", "text/plain", &failing{}); !errors.Is(err, errBoom) {
		t.Errorf("failed write: %v, want the reader's error", err)
	}
	if ok, err := s.Exists(ctx, "org_a/att_2"); err != nil || ok {
		t.Errorf("a failed write left a blob: %v %v", ok, err)
	}
	if got := files(t, dir); len(got) != 1 {
		t.Errorf("files after a failed write: %v, want only the first blob", got)
	}

	if err := s.Delete(ctx, "org_a/att_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "org_a/att_1"); err != nil {
		t.Errorf("deleting a missing blob: %v", err)
	}
	if _, err := s.Read(ctx, "org_a/att_1"); err == nil {
		t.Error("a deleted blob reads")
	}
}
