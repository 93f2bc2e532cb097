package handlers_test

import (
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/agency-platform/agency/handlers"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/testdb"
)

func newServer(t *testing.T, db handlers.Pinger) *httptest.Server {
	t.Helper()
	h, err := handlers.New(handlers.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DB: db})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string) (*http.Response, apitest.ErrorBody) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := apitest.Resp{Status: resp.StatusCode, Header: resp.Header, Body: b}.ErrorBody()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: content type %q, want JSON", method, url, ct)
	}
	return resp, body
}

func TestHealth(t *testing.T) {
	t.Parallel()
	up := newServer(t, testdb.New(t))
	// Nothing listens on port 1: the pool cannot connect.
	deadDB, _ := sql.Open("postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	t.Cleanup(func() { deadDB.Close() })
	down := newServer(t, deadDB)

	for _, tc := range []struct {
		name       string
		srv        *httptest.Server
		method     string
		path       string
		wantStatus int
		wantCode   string
	}{
		{"healthz", up, "GET", "/healthz", 200, ""},
		{"readyz", up, "GET", "/readyz", 200, ""},
		{"readyz_db_down", down, "GET", "/readyz", 503, "database_unavailable"},
		{"healthz_db_down", down, "GET", "/healthz", 200, ""},
		{"unknown_route", up, "GET", "/nope", 404, "not_found"},
		{"wrong_method", up, "DELETE", "/readyz", 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, tc.srv.URL+tc.path)
			if resp.StatusCode != tc.wantStatus || body.Code != tc.wantCode {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body.Code, tc.wantStatus, tc.wantCode)
			}
			if resp.Header.Get("X-Request-ID") == "" {
				t.Fatal("no X-Request-ID on the response")
			}
			if tc.wantCode != "" && body.RequestID != resp.Header.Get("X-Request-ID") {
				t.Fatalf("error request_id %q, want the header's %q", body.RequestID, resp.Header.Get("X-Request-ID"))
			}
		})
	}
}
