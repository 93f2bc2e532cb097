package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/fakeidp"
	"github.com/agency-platform/agency/internal/testdb"
)

// These tests break a database of their own (testdb.NewCluster), never the
// shared server, and watch what the running service answers.

const reviewPhone = "+15555550100"

// faultEnv serves on the cluster with a fixed code for reviewPhone.
func faultEnv(c *testdb.Cluster, extra ...string) []string {
	return append([]string{"HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=" + c.URL, "CLEANUP_INTERVAL=0",
		"SMS_TEST_OTPS=" + reviewPhone + "=123456", "DB_CONNECT_TIMEOUT=3s"}, extra...)
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

func call(t *testing.T, method, url, bearer string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: string(b), took: time.Since(start)}
}

// signIn signs reviewPhone in and returns the access and refresh tokens.
func signIn(t *testing.T, base string) (string, string) {
	t.Helper()
	if a := call(t, "POST", base+"/v1/auth/otp/send", "", map[string]string{"phone": reviewPhone}); a.status != 202 {
		t.Fatalf("send: got %d %s", a.status, a.body)
	}
	a := call(t, "POST", base+"/v1/auth/otp/verify", "", map[string]string{"phone": reviewPhone, "code": "123456"})
	var pair struct{ AccessToken, RefreshToken string }
	pair.AccessToken = field(a.body, "access_token")
	pair.RefreshToken = field(a.body, "refresh_token")
	if a.status != 200 || pair.AccessToken == "" {
		t.Fatalf("verify: got %d %s", a.status, a.body)
	}
	return pair.AccessToken, pair.RefreshToken
}

func field(body, name string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	s, _ := m[name].(string)
	return s
}

func errorOf(body string) string {
	var m struct{ Error json.RawMessage }
	_ = json.Unmarshal([]byte(body), &m)
	return string(m.Error)
}

// TestReadyz_PendingMigrations: with MIGRATE_ON_START=false on a database
// behind this release, the service keeps running but /readyz says why it
// is not ready, until someone migrates.
func TestReadyz_PendingMigrations(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	env := []string{"HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=" + db.URL, "CLEANUP_INTERVAL=0", "MIGRATE_ON_START=false"}
	base, logs, stop := startServe(t, env)
	defer stop()
	a := call(t, "GET", base+"/readyz", "", nil)
	if a.status != 503 || field(errorOf(a.body), "code") != "migrations_pending" || !strings.Contains(a.body, "agency migrate apply") {
		t.Fatalf("readyz on an unmigrated database: got %d %s, want 503 migrations_pending naming the fix", a.status, a.body)
	}
	if !strings.Contains(logs.String(), "lacks migrations") {
		t.Fatalf("the log does not say the database lacks migrations:\n%s", logs)
	}
	if err := run(context.Background(), []string{"migrate", "apply"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if a := call(t, "GET", base+"/readyz", "", nil); a.status != 200 {
		t.Fatalf("readyz after migrate apply: got %d %s, want 200", a.status, a.body)
	}
}

// TestDatabaseNewer: a database a newer release migrated is named as such
// (not as a tampered file); `migrate apply` refuses it, and serve keeps
// serving on it, ready, with a warning.
func TestDatabaseNewer(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	if _, err := db.Exec(`INSERT INTO atlas_schema_revisions.atlas_schema_revisions
		(version, description, type, applied, total, executed_at, execution_time, hash, operator_version)
		VALUES ('99991231235959', 'from_the_future', 2, 1, 1, now(), 0, 'h', 'agency')`); err != nil {
		t.Fatal(err)
	}
	env := []string{"HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=" + db.URL, "CLEANUP_INTERVAL=0"}
	err := run(context.Background(), []string{"migrate", "apply"}, env, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "newer release") || strings.Contains(err.Error(), "changed after") {
		t.Fatalf("migrate apply on a newer database: got %v, want an error saying a newer release migrated it", err)
	}
	base, logs, stop := startServe(t, env)
	defer stop()
	if a := call(t, "GET", base+"/readyz", "", nil); a.status != 200 {
		t.Fatalf("readyz on a newer database: got %d %s, want 200", a.status, a.body)
	}
	if !strings.Contains(logs.String(), "migrated by a newer release") {
		t.Fatalf("the log does not say the database is newer:\n%s", logs)
	}
}

// TestShutdown_UnderLoad: SIGTERM with 100 requests in flight, half of
// them Google sign-ins while Google's issuer hangs: every request gets an
// answer, and serve returns cleanly within SHUTDOWN_TIMEOUT, the cleanup
// job stopped.
func TestShutdown_UnderLoad(t *testing.T) {
	t.Parallel()
	idp := fakeidp.New(t)
	idp.SetDelay(time.Minute)
	db := testdb.New(t)
	base, logs, stop := startServe(t, []string{"HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=" + db.URL, "CLEANUP_INTERVAL=1s",
		"GOOGLE_ISSUER_URL=" + idp.URL, "GOOGLE_CLIENT_IDS=web.apps.test", "PROVIDER_TIMEOUT=2s",
		"SHUTDOWN_TIMEOUT=5s", "PROVIDER_SIGNINS_PER_IP_PER_HOUR=1000"})
	tok := idp.Token(t, idp.Claims("g-1", "web.apps.test", time.Now()))
	var wg, written sync.WaitGroup
	status := make([]int, 100)
	for i := range status {
		wg.Add(1)
		written.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			sent := func() { once.Do(written.Done) }
			defer sent()
			var req *http.Request
			if i%2 == 0 {
				b, _ := json.Marshal(map[string]string{"id_token": tok})
				req, _ = http.NewRequest("POST", base+"/v1/auth/google", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
			} else {
				req, _ = http.NewRequest("GET", base+"/readyz", nil)
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(),
				&httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent() }}))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return // status stays 0: no answer
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			status[i] = res.StatusCode
		}()
	}
	written.Wait()                     // every request is on the wire,
	time.Sleep(500 * time.Millisecond) // and accepted by the server
	start := time.Now()
	err := stop()
	took := time.Since(start)
	wg.Wait()
	if err != nil || took > 5*time.Second {
		t.Fatalf("shutdown: got %v after %v, want a clean exit within SHUTDOWN_TIMEOUT (5s)\n%s", err, took, logs)
	}
	for i, s := range status {
		if s == 0 {
			t.Fatalf("request %d got no answer before the exit", i)
		}
	}
	if strings.Contains(logs.String(), "cleanup failed") {
		t.Fatalf("the cleanup job did not stop cleanly:\n%s", logs)
	}
}

// TestDatabaseFaults walks one service through its database's troubles, on
// a cluster of the test's own:
//
//   - at start the database is not up yet: serve waits for it, up to
//     DB_CONNECT_TIMEOUT;
//   - outage: requests answer 503 unavailable with Retry-After within 2 s,
//     never a driver's words; /healthz stays 200 and /readyz says 503;
//     once the database is back, within 5 s every request succeeds again,
//     without a restart;
//   - restart of a healthy database: every pooled connection is dead, and
//     the first /readyz must still say ready.
func TestDatabaseFaults(t *testing.T) {
	t.Parallel()
	c := testdb.NewCluster(t)
	c.Stop()
	go func() { time.Sleep(1500 * time.Millisecond); c.Start() }()
	base, logs, stop := startServe(t, faultEnv(c, "DB_CONNECT_TIMEOUT=20s"))
	defer stop()
	access, refresh := signIn(t, base)

	t.Log("outage")
	c.Stop()
	for _, tt := range []struct {
		method, path, bearer string
		body                 any
	}{
		{"GET", "/v1/me", access, nil},
		{"POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}},
		{"POST", "/v1/auth/otp/send", "", map[string]string{"phone": reviewPhone}},
	} {
		a := call(t, tt.method, base+tt.path, tt.bearer, tt.body)
		if a.status != 503 || field(errorOf(a.body), "code") != "unavailable" || a.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the database down: got %d %s (Retry-After %q), want 503 unavailable with Retry-After",
				tt.method, tt.path, a.status, a.body, a.header.Get("Retry-After"))
		}
		if a.took > 2*time.Second {
			t.Errorf("%s %s: answered after %v, want within 2s", tt.method, tt.path, a.took)
		}
		for _, leak := range []string{"pq:", "dial tcp", "connection refused", "127.0.0.1"} {
			if strings.Contains(a.body, leak) {
				t.Errorf("%s %s: the body %s leaks %q", tt.method, tt.path, a.body, leak)
			}
		}
	}
	if a := call(t, "GET", base+"/healthz", "", nil); a.status != 200 {
		t.Errorf("healthz with the database down: got %d, want 200", a.status)
	}
	if a := call(t, "GET", base+"/readyz", "", nil); a.status != 503 {
		t.Errorf("readyz with the database down: got %d, want 503", a.status)
	}

	c.Start()
	back := time.Now()
	for call(t, "GET", base+"/v1/me", access, nil).status != 200 {
		if time.Since(back) > 5*time.Second {
			t.Fatalf("5s after the database came back, GET /v1/me still fails\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 20 {
		if a := call(t, "GET", base+"/v1/me", access, nil); a.status != 200 {
			t.Fatalf("request %d after recovery: got %d %s, want 200", i, a.status, a.body)
		}
	}

	t.Log("restart of a healthy database")
	var wg sync.WaitGroup
	for range 10 { // fill the pool with idle connections
		wg.Add(1)
		go func() { defer wg.Done(); call(t, "GET", base+"/v1/me", access, nil) }()
	}
	wg.Wait()
	c.Restart()
	for i := range 5 {
		if a := call(t, "GET", base+"/readyz", "", nil); a.status != 200 {
			t.Fatalf("readyz %d after a restart of a healthy database: got %d %s, want 200", i+1, a.status, a.body)
		}
	}
}

// TestDBCheck_GivesUpAfterTheConnectTimeout: a database that never comes is
// given up on after DB_CONNECT_TIMEOUT, not at once.
func TestDBCheck_GivesUpAfterTheConnectTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	err := run(context.Background(), []string{"db", "check"},
		[]string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/none?sslmode=disable", "DB_CONNECT_TIMEOUT=2s"}, io.Discard, io.Discard)
	if took := time.Since(start); err == nil || took < 1500*time.Millisecond || took > 10*time.Second {
		t.Fatalf("no database: got %v after %v, want an error after about DB_CONNECT_TIMEOUT (2s)", err, took)
	}
}

// TestReadOnlyDatabase: a database that cannot write (a standby not
// promoted yet, a demoted primary, default_transaction_read_only) answers
// writes 503 unavailable with Retry-After, never a 500; reads still work;
// /readyz says 503 and why; once it can write again, so can the service.
func TestReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	var name string
	if err := db.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	setReadOnly := func(on bool) {
		t.Helper()
		stmt := `ALTER DATABASE "` + name + `" RESET default_transaction_read_only`
		if on {
			stmt = `ALTER DATABASE "` + name + `" SET default_transaction_read_only = on`
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
		// The setting applies to new sessions: end the service's.
		if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'agency-read-only-test'`, name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setReadOnly(false) })
	base, logs, stop := startServe(t, []string{"HTTP_ADDR=127.0.0.1:0", "CLEANUP_INTERVAL=0",
		"DATABASE_URL=" + db.URL + "&application_name=agency-read-only-test",
		"SMS_TEST_OTPS=" + reviewPhone + "=123456", "OTP_RESEND_COOLDOWN=0s"})
	defer stop()
	access, refresh := signIn(t, base)

	setReadOnly(true)
	writes := 0
	deadline := time.Now().Add(5 * time.Second)
	for writes < 3 {
		a := call(t, "POST", base+"/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
		if a.status == 200 {
			t.Fatalf("refresh on a read-only database: got 200 %s", a.body)
		}
		if a.status != 503 || field(errorOf(a.body), "code") != "unavailable" || a.header.Get("Retry-After") == "" {
			t.Fatalf("refresh on a read-only database: got %d %s (Retry-After %q), want 503 unavailable with Retry-After\n%s",
				a.status, a.body, a.header.Get("Retry-After"), logs)
		}
		if strings.Contains(a.body, "read-only") || strings.Contains(a.body, "pq:") {
			t.Fatalf("the answer leaks the driver's words: %s", a.body)
		}
		writes++
		if time.Now().After(deadline) {
			t.Fatal("no answer in time")
		}
	}
	if a := call(t, "POST", base+"/v1/auth/otp/send", "", map[string]string{"phone": reviewPhone}); a.status != 503 {
		t.Fatalf("send on a read-only database: got %d %s, want 503", a.status, a.body)
	}
	if a := call(t, "GET", base+"/v1/me", access, nil); a.status != 200 {
		t.Fatalf("who-am-I on a read-only database (a read): got %d %s, want 200", a.status, a.body)
	}
	a := call(t, "GET", base+"/readyz", "", nil)
	if a.status != 503 || !strings.Contains(a.body, "read-only") {
		t.Fatalf("readyz on a read-only database: got %d %s, want 503 saying read-only", a.status, a.body)
	}

	setReadOnly(false)
	back := time.Now()
	for {
		a := call(t, "POST", base+"/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
		if a.status == 200 {
			break
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("5s after the database can write again, refresh still answers %d %s", a.status, a.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if a := call(t, "GET", base+"/readyz", "", nil); a.status != 200 {
		t.Fatalf("readyz once writable: got %d %s", a.status, a.body)
	}
}

// TestServe_MigrationDatabaseURL: with MIGRATION_DATABASE_URL set, serve
// migrates an empty database on it (a pool of its own, closed afterwards)
// and serves on DATABASE_URL; `migrate status` reads the same database.
// (Through PgBouncer, where it matters, internal/deploytest's slow tests.)
func TestServe_MigrationDatabaseURL(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	env := []string{"HTTP_ADDR=127.0.0.1:0", "CLEANUP_INTERVAL=0",
		"DATABASE_URL=" + db.URL + "&application_name=agency-serve", "MIGRATION_DATABASE_URL=" + db.URL}
	base, logs, stop := startServe(t, env)
	defer stop()
	if a := call(t, "GET", base+"/readyz", "", nil); a.status != 200 {
		t.Fatalf("readyz after migrating on MIGRATION_DATABASE_URL: got %d %s\n%s", a.status, a.body, logs)
	}
	if !strings.Contains(logs.String(), "migrating on MIGRATION_DATABASE_URL") || strings.Contains(logs.String(), "transaction pooler") {
		t.Fatalf("the log does not say where migrations went, or saw a pooler:\n%s", logs)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"migrate", "status"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), " 0 pending") {
		t.Fatalf("migrate status on MIGRATION_DATABASE_URL: got %v\n%s", err, out.String())
	}
}
