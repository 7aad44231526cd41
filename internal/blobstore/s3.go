//go:build blob_s3

package blobstore

import _ "gocloud.dev/blob/s3blob" // s3://bucket?region=…
