package migration_test

import (
	"os"
	"testing"

	"github.com/agency-platform/agency/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
