// Package postgres implements the domain services on PostgreSQL with bun.
// Storage owns transactions: every service method that changes state opens
// one transaction, writes the change and its event, and commits.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Open connects to the database at dsn (postgres://user:pass@host:port/db?sslmode=…).
func Open(dsn string) (*bun.DB, error) {
	connector := pgdriver.NewConnector(
		pgdriver.WithDSN(dsn),
		pgdriver.WithApplicationName("assistloop"),
		pgdriver.WithTimeout(15*time.Second),
	)
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(32)
	sqldb.SetMaxIdleConns(32)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// DB is the storage layer shared by every service: the bun handle, the
// notification hub and the logger.
type DB struct {
	bun *bun.DB
	hub *Hub
	log *slog.Logger
}

// NewDB wraps an open bun handle. Call Start to run the notification hub
// that live subscriptions need.
func NewDB(db *bun.DB, log *slog.Logger) *DB {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DB{bun: db, hub: newHub(db, log), log: log}
}

// Bun returns the underlying handle, for code that wires the storage layer
// (migrations, readiness checks).
func (db *DB) Bun() *bun.DB { return db.bun }

// Start listens for database notifications until ctx ends. It returns once
// the listener is set up.
func (db *DB) Start(ctx context.Context) error { return db.hub.start(ctx) }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.bun.NewRaw("SELECT 1").Scan(ctx, &one)
}

// inTx runs fn in a transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.bun.RunInTx(ctx, nil, fn)
}

// now reads the database clock. Every timestamp comes from the one database
// clock, so rows written by several service instances order consistently.
func now(ctx context.Context, idb bun.IDB) (time.Time, error) {
	var t time.Time
	err := idb.NewRaw("SELECT clock_timestamp()").Scan(ctx, &t)
	return t.UTC(), err
}

// SQLSTATE codes the services react to.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgInvalidText         = "22P02"
)

func pgCode(err error) string {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C')
	}
	return ""
}

// wrap annotates a driver error with the operation; domain errors and
// context cancellations pass through unchanged.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *assistloop.Error
	if errors.As(err, &de) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// notFound turns sql.ErrNoRows into the domain's not-found error for kind.
func notFound(kind string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return assistloop.NotFound(kind)
	}
	return err
}

// visibleTo restricts a query to rows whose organization column col (of the
// query's model table) belongs to one of the principal's workspaces. The
// system principal sees all.
func visibleTo(q *bun.SelectQuery, p *assistloop.Principal, col string) *bun.SelectQuery {
	if p.System {
		return q
	}
	return q.Where("?TableAlias."+col+" IN (SELECT m.organization_id FROM memberships AS m WHERE m.user_id = ?)", p.UserID)
}
