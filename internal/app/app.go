// Package app wires the service together: configuration, database,
// domain services, the GraphQL schema, the HTTP router and the background
// workers. cmd/assistloop parses flags and calls it; tests start the same
// wiring on a free port.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/graph"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/blobstore"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/pgcluster"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/internal/scheduler"
	"github.com/assistloop/assistloop/internal/webhook"
	"github.com/assistloop/assistloop/migrations"
)

// EmbeddedDatabase is the database the project-local cluster serves.
const EmbeddedDatabase = "assistloop"

// App is the wired service.
type App struct {
	Config config.Config
	Log    *slog.Logger

	DB    *bun.DB
	Store *postgres.DB

	Services graph.Services
	Tokens   assistloop.TokenService
	Clients  assistloop.ClientService
	OAuth    assistloop.OAuthService

	Resolver *graph.Resolver
	// Executor runs GraphQL documents in-process, with the same schema,
	// extensions and error presentation as the HTTP endpoint.
	Executor *executor.Executor

	// WebhookOptions configure the webhook delivery engine Run starts. Tests
	// adjust it (trusted CAs, shorter timeouts) before calling Run.
	WebhookOptions webhook.Options

	metrics *metrics

	// RedisPrefix prefixes every key the service keeps in Redis.
	RedisPrefix string
	// Redis holds the rate-limit counters when REDIS_URL is set.
	Redis *redis.Client

	// Blobs holds attachment bytes (BLOB_URL).
	Blobs *blobstore.Store
	// SchedulerOptions configure the scheduled-message sender Run starts.
	SchedulerOptions scheduler.Options
}

// NewLogger returns the service's structured logger.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Open connects to the database (starting the project-local cluster when
// no DATABASE_URL is set), applies pending migrations and builds the
// services.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	dsn, err := DatabaseURL(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	db, err := postgres.Open(dsn)
	if err != nil {
		return nil, err
	}
	if err := waitForDatabase(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	applied, err := migrations.Apply(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "migrations", applied)
	}
	return New(cfg, log, db), nil
}

// New builds the services over an open, migrated database. It panics when
// the blob store cannot be opened (BLOB_URL was validated by config.Load;
// a local directory that cannot be created is an operator's problem to
// see at once).
func New(cfg config.Config, log *slog.Logger, db *bun.DB) *App {
	store := postgres.NewDB(db, log)
	blobs, err := blobstore.Open(context.Background(), cfg.BlobURL)
	if err != nil {
		panic("app: " + err.Error())
	}
	a := &App{Config: cfg, Log: log, DB: db, Store: store,
		Services: graph.Services{
			Users:         postgres.NewUserService(store),
			Organizations: postgres.NewOrganizationService(store),
			Agents:        postgres.NewAgentService(store),
			ChatUsers:     postgres.NewChatUserService(store),
			Conversations: postgres.NewConversationService(store),
			Messages:      postgres.NewMessageService(store),
			Events:        postgres.NewEventService(store),
			Webhooks:      postgres.NewWebhookService(store, webhook.NewGuard(cfg.WebhookAllowPrivateTargets)),

			ConversationsAPI: postgres.NewConversationsAPI(store),
			Attachments:      postgres.NewAttachmentService(store, blobs, cfg.UploadMaxBytes),
		},
		Blobs:            blobs,
		SchedulerOptions: scheduler.Options{Poll: cfg.SchedulerPoll},
		Tokens:           postgres.NewTokenService(store),
		Clients:          postgres.NewClientService(store),
		OAuth:            postgres.NewOAuthService(store),
	}
	a.Resolver = &graph.Resolver{Services: a.Services, PublicURL: cfg.PublicURL, Log: log}
	a.Executor = graph.NewExecutor(a.Resolver, a.graphOptions())
	a.metrics = newMetrics(db)
	a.WebhookOptions = webhook.DefaultOptions()
	a.WebhookOptions.AllowPrivateTargets = cfg.WebhookAllowPrivateTargets
	a.WebhookOptions.Observe = a.metrics.observeWebhookAttempt
	a.WebhookOptions.Retention = cfg.WebhookLogRetention
	if a.WebhookOptions.Retention == 0 {
		a.WebhookOptions.Retention = -1 // keep forever
	}
	a.RedisPrefix = "assistloop"
	if cfg.RedisURL != "" {
		a.Redis = newRedis(cfg.RedisURL)
	}
	return a
}

// newRedis returns a client for the rate-limit counters. Short timeouts and
// no retries let the limiter fall back to local counters quickly when Redis
// is down. The URL was validated by config.Load.
func newRedis(url string) *redis.Client {
	opts, err := redis.ParseURL(url)
	if err != nil {
		panic("app: REDIS_URL passed validation but does not parse: " + err.Error())
	}
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = 250 * time.Millisecond
	opts.WriteTimeout = 250 * time.Millisecond
	opts.MaxRetries = -1
	opts.DisableIdentity = true
	return redis.NewClient(opts)
}

func (a *App) graphOptions() graph.Options {
	return graph.Options{
		ComplexityLimit: a.Config.GraphQLComplexityLimit,
		Introspection:   a.Config.GraphQLIntrospection,
		Tokens:          a.Tokens,
	}
}

// Close releases the database and Redis connections.
func (a *App) Close() error {
	if a.Redis != nil {
		_ = a.Redis.Close()
	}
	_ = a.Blobs.Close()
	return a.DB.Close()
}

// DatabaseURL returns the configured database URL, or starts the
// project-local cluster and returns the URL of its service database,
// creating that database on first use.
func DatabaseURL(ctx context.Context, cfg config.Config, log *slog.Logger) (string, error) {
	if !cfg.Embedded() {
		return cfg.DatabaseURL, nil
	}
	cluster, err := pgcluster.Ensure(ctx, cfg.DataDir, log)
	if err != nil {
		return "", err
	}
	admin, err := postgres.Open(cluster.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	var exists bool
	if err := admin.NewRaw("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", EmbeddedDatabase).Scan(ctx, &exists); err != nil {
		return "", fmt.Errorf("app: local database: %w", err)
	}
	if !exists {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+EmbeddedDatabase); err != nil && !strings.Contains(err.Error(), "already exists") {
			return "", fmt.Errorf("app: create local database: %w", err)
		}
	}
	return cluster.DSN(EmbeddedDatabase), nil
}

// waitForDatabase retries the first connection for a while: a database
// started alongside the service may still be booting.
func waitForDatabase(ctx context.Context, db *bun.DB) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("app: database unreachable: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// RedactURL hides the password of a URL for logs and banners.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
