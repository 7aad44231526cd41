// Package migrations holds the database schema as numbered SQL files,
// embedded in the binary and applied in name order by Apply.
//
// A file named NAME.tx.up.sql runs in a transaction; NAME.tx.down.sql undoes
// it. New migrations take a later timestamp prefix than every existing one.
package migrations

import (
	"context"
	"embed"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var files embed.FS

// All is every migration of the schema.
var All = migrate.NewMigrations()

func init() {
	if err := All.Discover(files); err != nil {
		panic(err)
	}
}

// lockKey is the advisory lock that serializes migrators of one database
// (several instances starting at once).
const lockKey = 7_340_214_001

// Apply brings the database schema up to date and returns the names of the
// migrations it applied.
func Apply(ctx context.Context, db *bun.DB) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", lockKey); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", lockKey) //nolint:errcheck

	m := migrate.NewMigrator(db, All, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: init: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var names []string
	for _, mg := range group.Migrations {
		names = append(names, mg.Name)
	}
	return names, nil
}
