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
	if !strings.Contains(logs.String(), `msg="metrics listening" addr=`+addr) {
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
