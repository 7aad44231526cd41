//go:build blob_gcs

package blobstore

import _ "gocloud.dev/blob/gcsblob" // gs://bucket
