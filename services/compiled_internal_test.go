package services

import (
	"slices"
	"testing"

	"github.com/agency-platform/agency/ent/user"
)

// TestCompiled_UserColumnsAreTheSchemas: the compiled statements select
// userColumns and scan them into userScan; a column added to the users
// table must be added there too, or the principal would silently lack it.
func TestCompiled_UserColumnsAreTheSchemas(t *testing.T) {
	if !slices.Equal(userColumns, user.Columns) {
		t.Fatalf("userColumns %v, the schema's %v: update userColumns and userScan", userColumns, user.Columns)
	}
	if got := len((&userScan{}).dest()); got != len(userColumns) {
		t.Fatalf("userScan scans %d columns, userColumns names %d", got, len(userColumns))
	}
}
