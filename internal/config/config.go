// Package config reads the service's configuration from the environment.
// Every variable has a safe default; Load validates them all at start and
// reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is the whole configuration.
type Config struct {
	// DatabaseURL is the PostgreSQL URL. Empty: the project-local cluster
	// under DataDir (development).
	DatabaseURL string
	// DataDir holds the project-local cluster (ASSISTLOOP_DATA_DIR).
	DataDir string
	// Addr is the listen address.
	Addr string
	// PublicURL is the external base URL (links, OAuth metadata).
	PublicURL string
	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	TLSCertFile string
	TLSKeyFile  string
	// RequireHTTPS refuses requests that reached a trusted proxy over plain
	// HTTP (X-Forwarded-Proto: http).
	RequireHTTPS bool
	// TrustedProxies are the networks whose X-Forwarded-* headers count.
	TrustedProxies []*net.IPNet

	// RedisURL, when set, shares rate-limit counters between instances.
	RedisURL string
	// RateLimitWindow is the rate-limit window (one minute in production;
	// tests shorten it).
	RateLimitWindow time.Duration

	// WebhookAllowPrivateTargets lets webhook targets resolve to loopback
	// and private addresses (local testing only).
	WebhookAllowPrivateTargets bool
	// WebhookLogRetention is how long finished deliveries stay in the
	// delivery log; 0 keeps them forever.
	WebhookLogRetention time.Duration

	GraphQLComplexityLimit int
	GraphQLIntrospection   bool

	// ShutdownTimeout bounds the graceful drain on SIGTERM.
	ShutdownTimeout time.Duration

	// DemoOnEmpty loads the demo workspace when serve starts on an empty
	// database (default: only with the project-local cluster).
	DemoOnEmpty bool

	// BlobURL is where attachment bytes live (gocloud.dev/blob URL):
	// file://<DataDir>/blobs by default, s3:// or gs:// in production.
	BlobURL string
	// UploadMaxBytes caps one uploaded file.
	UploadMaxBytes int64
	// SchedulerPoll bounds how late a scheduled message can be sent when
	// it was scheduled by another instance.
	SchedulerPoll time.Duration
}

// DefaultUploadMaxBytes is the default size limit of one uploaded file.
const DefaultUploadMaxBytes = 25 << 20

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	str := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	boolean := func(key string, def bool) bool {
		v := str(key, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean", key, v))
		}
		return b
	}
	integer := func(key string, def int) int {
		v := str(key, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive integer", key, v))
		}
		return n
	}
	duration := func(key string, def time.Duration) time.Duration {
		v := str(key, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration", key, v))
		}
		return d
	}

	c := Config{
		DatabaseURL:                str("DATABASE_URL", ""),
		DataDir:                    str("ASSISTLOOP_DATA_DIR", ".data"),
		Addr:                       str("ADDR", "127.0.0.1:8080"),
		PublicURL:                  strings.TrimRight(str("PUBLIC_URL", ""), "/"),
		LogFormat:                  str("LOG_FORMAT", "text"),
		TLSCertFile:                str("TLS_CERT_FILE", ""),
		TLSKeyFile:                 str("TLS_KEY_FILE", ""),
		RequireHTTPS:               boolean("REQUIRE_HTTPS", false),
		RedisURL:                   str("REDIS_URL", ""),
		RateLimitWindow:            duration("RATE_LIMIT_WINDOW", time.Minute),
		WebhookAllowPrivateTargets: boolean("WEBHOOK_ALLOW_PRIVATE_TARGETS", false),
		WebhookLogRetention:        30 * 24 * time.Hour,
		GraphQLComplexityLimit:     integer("GRAPHQL_COMPLEXITY_LIMIT", 5000),
		GraphQLIntrospection:       boolean("GRAPHQL_INTROSPECTION", getenv("DATABASE_URL") == ""),
		ShutdownTimeout:            duration("SHUTDOWN_TIMEOUT", 20*time.Second),
	}

	c.DemoOnEmpty = boolean("DEMO_ON_EMPTY", c.DatabaseURL == "")
	if v := str("WEBHOOK_LOG_RETENTION", ""); v == "0" {
		c.WebhookLogRetention = 0
	} else if v != "" {
		c.WebhookLogRetention = duration("WEBHOOK_LOG_RETENTION", 0)
	}
	c.UploadMaxBytes = int64(integer("UPLOAD_MAX_BYTES", DefaultUploadMaxBytes))
	c.SchedulerPoll = duration("SCHEDULER_POLL", time.Second)
	c.BlobURL = str("BLOB_URL", "")
	if c.BlobURL == "" {
		abs, err := filepath.Abs(filepath.Join(c.DataDir, "blobs"))
		if err != nil {
			errs = append(errs, fmt.Errorf("ASSISTLOOP_DATA_DIR: %w", err))
		}
		c.BlobURL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: "no_tmp_dir=1&metadata=skip"}).String()
	} else if u, err := url.Parse(c.BlobURL); err != nil || u.Scheme == "" {
		errs = append(errs, fmt.Errorf("BLOB_URL: %q is not a URL (file:///dir, s3://bucket, gs://bucket)", c.BlobURL))
	}
	if err := c.LogLevel.UnmarshalText([]byte(str("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", getenv("LOG_LEVEL")))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ADDR: %q is not host:port", c.Addr))
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("DATABASE_URL: not a postgres:// URL"))
		}
	}
	if c.PublicURL == "" {
		scheme := "http"
		if c.TLSCertFile != "" {
			scheme = "https"
		}
		c.PublicURL = scheme + "://" + c.Addr
	} else if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("PUBLIC_URL: %q is not an http(s) URL", c.PublicURL))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS_CERT_FILE and TLS_KEY_FILE must be set together"))
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			errs = append(errs, errors.New("REDIS_URL: not a redis:// or rediss:// URL"))
		}
	}
	for _, cidr := range strings.Split(str("TRUSTED_PROXIES", "127.0.0.1/32,::1/128"), ",") {
		cidr = strings.TrimSpace(cidr)
		if cidr == "" {
			continue
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR", cidr))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	return c, errors.Join(errs...)
}

// Embedded reports whether the service uses the project-local cluster.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// TLS reports whether the server speaks HTTPS itself.
func (c Config) TLS() bool { return c.TLSCertFile != "" }
