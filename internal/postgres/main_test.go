package postgres_test

import (
	"testing"

	"github.com/assistloop/assistloop/internal/pgtest"
)

// TestMain gives the package's tests a fresh, migrated database.
func TestMain(m *testing.M) { pgtest.Main(m) }
