package handlers_test

import (
	"os"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/testdb"
)

// api is one test's running service (apitest.API), with the helpers of
// this package's tests as methods.
type api struct{ *apitest.API }

// newAPI starts the service on a fresh database of dialect d.
func newAPI(t testing.TB, d string, env ...string) *api { return &api{apitest.New(t, d, env...)} }

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// errorOf is an error response's code and field; it fails the test when
// the response carries no message.
func errorOf(t *testing.T, r apitest.Resp) (code, field string) {
	t.Helper()
	e := r.ErrorBody()
	if e.Message == "" {
		t.Fatalf("error response without a message: %s", r.Body)
	}
	return e.Code, e.Field
}
