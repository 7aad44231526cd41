// Package pgtest gives each test package its own fresh, migrated PostgreSQL
// database, so packages can run in parallel against one server.
//
// The server is $TEST_DATABASE_URL, else $DATABASE_URL, else the
// project-local cluster (internal/pgcluster) under the module's .data/.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) { db := pgtest.Open(t) … }
package pgtest

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/pgcluster"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/migrations"
)

// dsn is the package database's URL, set by Main.
var dsn string

// Main creates the package's database, runs the tests and drops the
// database. It calls os.Exit.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	admin, err := AdminDSN(ctx)
	if err != nil {
		log.Printf("pgtest: %v", err)
		return 1
	}
	adminDB, err := postgres.Open(admin)
	if err != nil {
		log.Printf("pgtest: %v", err)
		return 1
	}
	defer adminDB.Close()
	dropAbandoned(ctx, adminDB)

	name := fmt.Sprintf("test_%s_%d_%s", packageName(), os.Getpid(), assistloop.RandomString(6))
	if _, err := adminDB.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		log.Printf("pgtest: create database: %v", err)
		return 1
	}
	defer func() {
		if _, err := adminDB.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			log.Printf("pgtest: drop database: %v", err)
		}
	}()
	dsn = withDatabase(admin, name)
	db, err := postgres.Open(dsn)
	if err != nil {
		log.Printf("pgtest: %v", err)
		return 1
	}
	if _, err := migrations.Apply(ctx, db); err != nil {
		log.Printf("pgtest: %v", err)
		db.Close()
		return 1
	}
	db.Close()
	return m.Run()
}

// DSN returns the URL of the package's database.
func DSN(tb testing.TB) string {
	tb.Helper()
	if dsn == "" {
		tb.Fatal("pgtest: the package's TestMain must call pgtest.Main")
	}
	return dsn
}

// Open connects to the package's database; the connection closes when the
// test ends.
func Open(tb testing.TB) *bun.DB {
	tb.Helper()
	db, err := postgres.Open(DSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// AdminDSN returns the URL of a database on the test server from which test
// databases can be created, starting the project-local cluster when no URL
// is configured.
func AdminDSN(ctx context.Context) (string, error) {
	for _, key := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(key); v != "" {
			return v, nil
		}
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	c, err := pgcluster.Ensure(ctx, filepath.Join(root, ".data"), nil)
	if err != nil {
		return "", err
	}
	return c.DSN("postgres"), nil
}

// ModuleRoot finds the directory holding go.mod, upwards from the working
// directory (a test runs in its package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("pgtest: go.mod not found above the working directory")
		}
		dir = parent
	}
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

func packageName() string {
	wd, _ := os.Getwd()
	name := nonIdent.ReplaceAllString(strings.ToLower(filepath.Base(wd)), "")
	if len(name) > 20 {
		name = name[:20]
	}
	return name
}

// dropAbandoned drops test databases left by test processes that died
// before cleaning up (their name carries the process id).
func dropAbandoned(ctx context.Context, db *bun.DB) {
	var names []string
	if err := db.NewRaw("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'").Scan(ctx, &names); err != nil {
		return
	}
	for _, n := range names {
		parts := strings.Split(n, "_")
		if len(parts) < 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-2])
		if err != nil || processAlive(pid) {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
		cancel()
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
