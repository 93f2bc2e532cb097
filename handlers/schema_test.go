package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/migration"
)

// getPage fetches a page of the test server without the spec check (pages are
// HTML, outside the API).
func getPage(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestSchemaPage_Switch(t *testing.T) {
	t.Parallel()
	on := newAPI(t, migration.Postgres, "SCHEMA_UI=true")
	res, body := getPage(t, on.Server.URL+"/schema")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("SCHEMA_UI=true: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q, want nothing loaded and no unsafe-inline", csp)
	}
	if !strings.Contains(body, "<svg") {
		t.Error("the page has no SVG diagram")
	}
	off := newAPI(t, migration.Postgres, "SCHEMA_UI=false")
	res, body = getPage(t, off.Server.URL+"/schema")
	if res.StatusCode != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("SCHEMA_UI=false: %d %s", res.StatusCode, body)
	}
}
