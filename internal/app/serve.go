package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/internal/scheduler"
	"github.com/assistloop/assistloop/internal/webhook"
)

// Listen opens the configured listen address.
func (a *App) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return nil, fmt.Errorf("app: listen: %w", err)
	}
	return ln, nil
}

// Run serves HTTP on ln and runs the background workers until ctx ends,
// then drains in-flight requests (up to ShutdownTimeout) and stops.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	// baseCtx outlives ctx by the drain: requests in flight at shutdown
	// finish; long-lived ones (subscriptions) end when it is cancelled.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()

	if err := a.Store.Start(baseCtx); err != nil {
		return err
	}
	var workers sync.WaitGroup
	a.startWorkers(baseCtx, &workers)

	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if a.Config.TLS() {
		cert, err := tls.LoadX509KeyPair(a.Config.TLSCertFile, a.Config.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("app: TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Log.Info("serving", "addr", ln.Addr().String(), "tls", a.Config.TLS(), "public_url", a.Config.PublicURL)

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		a.Log.Info("shutting down", "timeout", a.Config.ShutdownTimeout)
		drain, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
		err = srv.Shutdown(drain)
		cancel()
	}
	cancelBase()
	workers.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// startWorkers starts the background workers; each stops when ctx ends
// and marks wg done.
func (a *App) startWorkers(ctx context.Context, wg *sync.WaitGroup) {
	a.WebhookEngine().Start(ctx, wg)
	scheduler.Start(ctx, wg, postgres.NewMessageScheduler(a.Store), a.SchedulerOptions, a.Log.With("component", "scheduler"))
}

// WebhookEngine returns a webhook delivery engine (fan-out and delivery
// workers) over the app's database and GraphQL executor, configured by
// a.WebhookOptions.
func (a *App) WebhookEngine() *webhook.Engine {
	return webhook.NewEngine(postgres.NewDeliveryQueue(a.Store), a.Executor, a.WebhookOptions, a.Log.With("component", "webhooks"))
}
