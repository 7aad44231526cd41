// Package blobstore keeps attachment bytes in a gocloud.dev/blob bucket:
// a local directory (file://, the default) here, object storage in
// production (s3:// and gs://, compiled in with the build tags blob_s3 and
// blob_gcs; see README).
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	"gocloud.dev/gcerrors"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Store is an assistloop.BlobStore over a bucket.
type Store struct{ bucket *blob.Bucket }

var _ assistloop.BlobStore = (*Store)(nil)

// Open opens the bucket at rawURL. For file:// URLs the directory is
// created first.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	if u.Scheme == "file" {
		if err := os.MkdirAll(filepath.FromSlash(u.Path), 0o750); err != nil {
			return nil, fmt.Errorf("blobstore: %w", err)
		}
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	return &Store{bucket: b}, nil
}

// FileURL is the bucket URL of a local directory: temporary files are
// written next to their final name (no cross-device rename) and no
// sidecar metadata files are kept (the database has the metadata).
func FileURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: "no_tmp_dir=1&metadata=skip"}).String(), nil
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Write stores r under key. If reading r fails (a size limit, a client
// that went away), the write is aborted before the blob is committed, so
// nothing is stored, and r's error is returned as is.
func (s *Store) Write(ctx context.Context, key, contentType string, r io.Reader) (int64, error) {
	wctx, abort := context.WithCancel(ctx)
	defer abort()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	n, err := io.Copy(w, r)
	if err != nil {
		abort() // cancelling before Close discards the blob
		_ = w.Close()
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	return n, nil
}

// Read opens the blob at key.
func (s *Store) Read(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	return r, nil
}

// Delete removes the blob at key; a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("blobstore: %w", err)
	}
	return nil
}

// Exists reports whether a blob is stored at key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil && !errors.Is(err, context.Canceled) {
		return false, fmt.Errorf("blobstore: %w", err)
	}
	return ok, err
}
