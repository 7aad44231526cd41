package app_test

import (
	"testing"

	"github.com/assistloop/assistloop/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
