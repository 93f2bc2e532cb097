package handlers_test

import (
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/migration"
)

func TestSchemaPage_Switch(t *testing.T) {
	t.Parallel()
	on := newAPI(t, migration.Postgres, "SCHEMA_UI=true")
	p := fetchPage(t, on, "/schema")
	if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Fatalf("SCHEMA_UI=true: %d %s", p.status, p.header.Get("Content-Type"))
	}
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q, want nothing loaded and no unsafe-inline", csp)
	}
	if !strings.Contains(p.body, "<svg") {
		t.Error("the page has no SVG diagram")
	}
	wantNotFound(t, newAPI(t, migration.Postgres, "SCHEMA_UI=false"), "/schema")
}
