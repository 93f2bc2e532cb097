package app_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/testdb"
)

// freeAddr returns a loopback address with a port free a moment ago:
// METRICS_ADDR must differ from HTTP_ADDR, so both cannot be port 0.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// TestServe_Metrics starts `agency serve` with METRICS_ADDR: the metrics
// listener answers GET /metrics in the Prometheus text format with the
// public port's requests counted, the public port answers /metrics with
// its JSON 404, and shutdown closes the metrics listener too.
func TestServe_Metrics(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	addr := freeAddr(t)
	base, logs, stop := startServe(t, []string{"HTTP_ADDR=127.0.0.1:0", "METRICS_ADDR=" + addr,
		"DATABASE_URL=" + db.URL, "CLEANUP_INTERVAL=0"})
	if got := getStatus(t, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200\n%s", got, logs)
	}
	status, ctype, body := get(t, base+"/metrics")
	if status != http.StatusNotFound || !strings.HasPrefix(ctype, "application/json") || strings.Contains(body, "agency_") {
		t.Fatalf("public GET /metrics: got %d %s %.200s, want the JSON 404", status, ctype, body)
	}

	status, ctype, body = get(t, "http://"+addr+"/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("metrics GET /metrics: got %d %s, want 200 text/plain\n%s", status, ctype, logs)
	}
	for _, want := range []string{
		`agency_http_requests_total{method="GET",route="/readyz",status="200"} 1`,
		`agency_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`go_sql_open_connections{db_name="agency"}`,
		"go_goroutines ", "process_cpu_seconds_total ", "agency_signins_total{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape: no %s", want)
		}
	}
	if got := getStatus(t, "http://"+addr+"/readyz"); got != http.StatusNotFound {
		t.Errorf("metrics GET /readyz: got %d, want 404 (the metrics port serves /metrics only)", got)
	}
	if !strings.Contains(logs.String(), `msg="side listener" key=METRICS_ADDR addr=`+addr) {
		t.Errorf("the log does not say where metrics listen:\n%s", logs)
	}

	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if res, err := http.Get("http://" + addr + "/metrics"); err == nil {
		res.Body.Close()
		t.Fatalf("metrics listener still answers after shutdown: %d", res.StatusCode)
	}
}

// TestServe_Pprof starts `agency serve` with PPROF_ADDR: the profiler
// answers there (index, heap, a short CPU profile, block and mutex with
// sampling on), never on the public port.
func TestServe_Pprof(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	addr := freeAddr(t)
	base, logs, stop := startServe(t, []string{"HTTP_ADDR=127.0.0.1:0", "PPROF_ADDR=" + addr,
		"DATABASE_URL=" + db.URL, "CLEANUP_INTERVAL=0"})
	defer stop()
	if got := getStatus(t, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200\n%s", got, logs)
	}
	if status, _, _ := get(t, base+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("public GET /debug/pprof/: got %d, want 404", status)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1",
		"/debug/pprof/block", "/debug/pprof/mutex", "/debug/pprof/goroutine?debug=1"} {
		status, _, body := get(t, "http://"+addr+path)
		if status != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s on PPROF_ADDR: got %d with %d bytes, want 200 with a profile", path, status, len(body))
		}
	}
}
