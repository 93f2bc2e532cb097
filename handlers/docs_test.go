package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/browsertest"
	"github.com/agency-platform/agency/internal/migration"
)

// specOperations lists "METHOD /path" for every operation of openapi.yaml,
// read here independently of the code that renders /docs.
func specOperations(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(apitest.SpecPath())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	if len(ops) == 0 {
		t.Fatal("openapi.yaml has no operations")
	}
	return ops
}

// fetched is a response from one of the HTML pages, read whole.
type fetched struct {
	status int
	header http.Header
	body   string
}

// fetchPage fetches path with a plain client: the pages are not part of
// openapi.yaml, so the harness's contract check does not apply.
func fetchPage(t *testing.T, a *api, path string) fetched {
	t.Helper()
	res, err := http.Get(a.Server.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fetched{status: res.StatusCode, header: res.Header, body: string(b)}
}

// wantNotFound fails unless path is the API's JSON 404, as for any route
// that does not exist.
func wantNotFound(t *testing.T, a *api, path string) {
	t.Helper()
	p := fetchPage(t, a, path)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if p.status != http.StatusNotFound || !strings.HasPrefix(p.header.Get("Content-Type"), "application/json") ||
		json.Unmarshal([]byte(p.body), &e) != nil || e.Error.Code != "not_found" {
		t.Fatalf("GET %s: got %d %s %q, want the JSON 404 not_found", path, p.status, p.header.Get("Content-Type"), p.body)
	}
}

// wantPageHeaders fails unless p carries the pages' security headers.
func wantPageHeaders(t *testing.T, what string, p fetched) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s: %s got %q, want %q", what, k, got, want)
		}
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", what, csp, want)
		}
	}
}

// TestDocs_Switch: /docs is on by default in development, off with
// DOCS_UI=false and by default in production (the usual JSON 404), and on
// in production when asked for.
func TestDocs_Switch(t *testing.T) {
	t.Parallel()
	prod := []string{"APP_ENV=production", "SMS_PROVIDER=webhook", "SMS_WEBHOOK_URL=https://sms.example/hook"}
	tests := []struct {
		name          string
		env           []string
		docs, console bool
	}{
		{name: "development_default", docs: true, console: true},
		{name: "docs_false", env: []string{"DOCS_UI=false"}, console: true},
		{name: "console_false", env: []string{"CONSOLE_UI=false"}, docs: true},
		{name: "production_default", env: prod},
		{name: "production_docs_true", env: append(slices.Clone(prod), "DOCS_UI=true"), docs: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, migration.SQLite, tc.env...)
			for on, paths := range map[bool][]string{
				tc.docs:    {"/docs", "/docs/docs.css", "/docs/docs.js", "/docs/favicon.svg"},
				tc.console: {"/console", "/console/console.css", "/console/console.js", "/console/favicon.svg"},
			} {
				for _, path := range paths {
					if !on {
						wantNotFound(t, a, path)
					} else if p := fetchPage(t, a, path); p.status != http.StatusOK {
						t.Errorf("GET %s: got %d, want 200", path, p.status)
					}
				}
			}
		})
	}
}

// TestDocs_Page: the page is HTML with the pages' security headers, lists
// every operation without JavaScript, and links only to this server.
func TestDocs_Page(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.SQLite)
	p := fetchPage(t, a, "/docs")
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /docs: got %d %s, want 200 text/html", p.status, p.header.Get("Content-Type"))
	}
	wantPageHeaders(t, "/docs", p)
	for _, op := range specOperations(t) {
		method, path, _ := strings.Cut(op, " ")
		if !strings.Contains(p.body, `data-method="`+method+`" data-path="`+path+`"`) {
			t.Errorf("/docs does not list %s", op)
		}
	}
	for _, want := range []string{`href="/openapi.yaml"`, `<script src="/docs/docs.js"`, `<link rel="stylesheet" href="/docs/docs.css">`, `id="search"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("/docs lacks %s", want)
		}
	}
	for _, bad := range []string{`src="http`, `src="//`, `<style`, ` style="`, "<script>"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("/docs contains %s: only same-origin, non-inline resources pass its CSP", bad)
		}
	}
	if css := fetchPage(t, a, "/docs/docs.css"); css.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("docs.css: got Content-Type %q", css.header.Get("Content-Type"))
	}
}

// TestDocs_Browser renders /docs in Chromium: nothing fails or loads from
// elsewhere, every operation of the contract is on the page, and the
// search box filters as one types.
func TestDocs_Browser(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.SQLite)
	p := browsertest.New(t).Open(t, a.Server.URL+"/docs")
	p.WaitVisible("#search")

	var listed []string
	p.Eval(`[...document.querySelectorAll("article.op")].map(a => a.dataset.method + " " + a.dataset.path)`, &listed)
	slices.Sort(listed)
	if want := specOperations(t); !slices.Equal(listed, want) {
		t.Fatalf("operations on the page:\n got %q\nwant %q", listed, want)
	}
	var text string
	p.Eval(`document.querySelector("main").innerText`, &text)
	for _, op := range listed {
		if _, path, _ := strings.Cut(op, " "); !strings.Contains(text, path) {
			t.Errorf("the rendered text lacks %s", path)
		}
	}

	const visible = `Object.fromEntries([...document.querySelectorAll("article.op")].map(a => [a.dataset.method + " " + a.dataset.path, a.checkVisibility()]))`
	var shown map[string]bool
	p.Type("#search", "sessions")
	p.Eval(visible, &shown)
	if !shown["GET /v1/me/sessions"] || !shown["DELETE /v1/me/sessions/{id}"] || shown["GET /healthz"] || shown["POST /v1/auth/otp/send"] {
		t.Fatalf("after typing \"sessions\": got %v, want the session operations only", shown)
	}
	var navHealthz bool
	p.Eval(`document.querySelector('.side a[href="#op-gethealthz"]').checkVisibility()`, &navHealthz)
	if navHealthz {
		t.Fatal(`after typing "sessions": the navigation still shows GET /healthz`)
	}
	p.Screenshot("docs") // filtered: the whole reference is a 30,000-pixel PNG
	p.Type("#search", " delete")
	p.Eval(visible, &shown)
	if !shown["DELETE /v1/me/sessions/{id}"] || shown["GET /v1/me/sessions"] {
		t.Fatalf("after typing \"sessions delete\": got %v, want DELETE /v1/me/sessions/{id} only", shown)
	}
	p.SetValue("#search", "no such operation")
	p.WaitVisible("#no-match")
	p.SetValue("#search", "")
	p.Eval(visible, &shown)
	for op, v := range shown {
		if !v {
			t.Errorf("after clearing the search: %s is hidden", op)
		}
	}
}
