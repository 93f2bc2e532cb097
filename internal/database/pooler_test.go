package database_test

import (
	"context"
	"testing"

	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/testdb"
)

// TestBehindTransactionPooler_Direct: a direct connection is not taken for
// a pooler, even with one idle connection in the pool (the one the next
// check would reuse). Through PgBouncer in transaction mode the check says
// true: internal/deploytest's slow tests prove it against a real one.
func TestBehindTransactionPooler_Direct(t *testing.T) {
	t.Parallel()
	db := testdb.New(t).DB
	for range 3 {
		pooled, err := database.BehindTransactionPooler(context.Background(), db)
		if err != nil || pooled {
			t.Fatalf("direct connection: got pooled=%v, %v; want false", pooled, err)
		}
	}
}
