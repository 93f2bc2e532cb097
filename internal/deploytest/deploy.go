package deploytest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // registers "postgres"

	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/loadgen"
	"github.com/agency-platform/agency/internal/testdb"
)

// A deployment as production runs it, on this machine: the real binary
// started N times on ports of 127.0.0.1, a throwaway PostgreSQL primary,
// optionally a streaming standby (synchronous or asynchronous) and a
// PgBouncer in transaction mode in front, and a client that spreads
// requests over the instances round-robin.

// Replication says whether a deployment has a standby, and how commits wait
// for it.
type Replication int

const (
	// NoStandby runs the primary alone.
	NoStandby Replication = iota
	// Synchronous makes every commit wait until the standby has flushed it
	// (synchronous_standby_names lists it; synchronous_commit=on).
	Synchronous
	// Asynchronous streams to the standby without waiting for it.
	Asynchronous
)

// Options shape a deployment.
type Options struct {
	Instances int
	Standby   Replication
	PgBouncer bool
	// Env is added to every instance's environment (KEY=value), after the
	// harness's own, so it overrides them.
	Env []string
	// NoStart leaves the instances unstarted (StartInstances starts them).
	NoStart bool
}

// Deployment is a running deployment; everything stops when the test ends.
type Deployment struct {
	t         testing.TB
	Primary   *testdb.Cluster
	Standby   *testdb.Cluster
	Bouncer   *Bouncer
	Instances []*Instance
	SMS       *loadgen.SMSBox
	// DatabaseURL is the URL the instances use (PgBouncer's when there is
	// one); DirectURL reaches the primary's database without PgBouncer.
	DatabaseURL, DirectURL string
	opts                   Options
	next                   atomic.Uint64
	// replication is the network between primary and standby.
	replication *Link
	http        *http.Client
}

// Database is the name of the service's database on the primary.
const Database = "agency"

// Start brings a deployment up: the clusters, PgBouncer, then the
// instances, all at the same moment, each ready (/readyz 200) before it
// returns.
func Start(t testing.TB, o Options) *Deployment {
	t.Helper()
	d := &Deployment{t: t, opts: o, http: &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0},
	}}
	d.Primary = testdb.NewCluster(t)
	d.exec(d.Primary.URL, "CREATE DATABASE "+Database)
	d.DirectURL = dbURL(d.Primary.Port, Database)
	switch o.Standby {
	case Synchronous, Asynchronous:
		d.replication = NewLink(t, fmt.Sprintf("127.0.0.1:%d", d.Primary.Port))
		d.Standby = d.Primary.NewStandby("standby1", d.replication.Port())
		if o.Standby == Synchronous {
			d.exec(d.Primary.URL, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
			d.exec(d.Primary.URL, "SELECT pg_reload_conf()")
		}
		d.waitStreaming(o.Standby == Synchronous)
	}
	d.DatabaseURL = d.DirectURL
	if o.PgBouncer {
		d.Bouncer = StartBouncer(t, d.Primary.Port)
		d.DatabaseURL = d.Bouncer.URL(Database)
	}
	box, err := loadgen.ListenSMS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	d.SMS = box
	if !o.NoStart {
		d.StartInstances(o.Instances)
	}
	return d
}

// StartInstances starts n instances at the same moment and waits until
// each is ready.
func (d *Deployment) StartInstances(n int) []*Instance {
	d.t.Helper()
	started := make([]*Instance, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); started[i] = d.launch(len(d.Instances) + i) }()
	}
	wg.Wait()
	for _, in := range started {
		if err := in.waitReady(30 * time.Second); err != nil {
			d.t.Fatalf("instance %d: %v\n%s", in.N, err, in.Logs())
		}
	}
	d.Instances = append(d.Instances, started...)
	return started
}

// Env is the environment every instance gets, before Options.Env.
func (d *Deployment) Env() []string {
	env := []string{
		"APP_ENV=development", "LOG_FORMAT=json", "LOG_LEVEL=info",
		"DATABASE_URL=" + d.DatabaseURL,
		"SMS_PROVIDER=webhook", "SMS_WEBHOOK_URL=" + d.SMS.URL(),
		// Every instance must hold the same secrets: a token one issues,
		// another verifies.
		"OTP_SECRET=" + strings.Repeat("o", 32), "REFRESH_TOKEN_SECRET=" + strings.Repeat("r", 32),
		"JWT_PRIVATE_KEY=" + sharedKey(d.t),
		// Clients name themselves with X-Forwarded-For, so each part of a
		// test has its own rate-limit budgets.
		"TRUSTED_PROXIES=127.0.0.1",
		"CLEANUP_INTERVAL=0", "DB_CONNECT_TIMEOUT=10s", "SHUTDOWN_TIMEOUT=5s",
		"SCHEMA_UI=false", "DOCS_UI=false", "CONSOLE_UI=false",
	}
	if d.Bouncer != nil {
		env = append(env, "MIGRATION_DATABASE_URL="+d.DirectURL)
	}
	return append(env, d.opts.Env...)
}

var (
	keyOnce sync.Once
	keyPEM  string
)

// sharedKey is one ES256 key for every instance of the test process.
func sharedKey(t testing.TB) string {
	keyOnce.Do(func() {
		var err error
		if keyPEM, err = accesstoken.GenerateES256PEM(); err != nil {
			t.Fatal(err)
		}
	})
	return keyPEM
}

// Instance is one running `agency serve`.
type Instance struct {
	N    int
	URL  string
	cmd  *exec.Cmd
	logs *apitest.LogBuffer
	done chan struct{}
}

// Launch starts one more instance with env added to its environment (after
// Env's), without waiting for it to be ready; it is not in Instances, so
// Do does not send it requests (DoOn does).
func (d *Deployment) Launch(env ...string) *Instance {
	d.t.Helper()
	return d.launch(-1, env...)
}

// launch starts instance n (not waiting for it).
func (d *Deployment) launch(n int, extra ...string) *Instance {
	port := testdb.FreePort(d.t)
	in := &Instance{N: n, URL: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &apitest.LogBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(Binary(d.t), "serve")
	cmd.Env = append(append(append(os.Environ(), d.Env()...), extra...), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = in.logs, in.logs
	cmd.Dir = d.t.TempDir()
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	in.cmd = cmd
	go func() { _ = cmd.Wait(); close(in.done) }()
	d.t.Cleanup(func() { in.Stop() })
	return in
}

// WaitListening polls /healthz until it answers (the process serves), the
// process exits, or timeout.
func (in *Instance) WaitListening(timeout time.Duration) error {
	return in.poll("/healthz", timeout)
}

// waitReady polls /readyz until 200, the process exits, or timeout.
func (in *Instance) waitReady(timeout time.Duration) error { return in.poll("/readyz", timeout) }

func (in *Instance) poll(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			return fmt.Errorf("exited before it was ready")
		default:
		}
		res, err := http.Get(in.URL + path)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not 200 after %v", path, timeout)
}

// Exited reports whether the process has ended.
func (in *Instance) Exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// Kill ends the process with SIGKILL (no shutdown) and waits for it.
func (in *Instance) Kill() {
	_ = in.cmd.Process.Kill()
	<-in.done
}

// Stop ends the process with SIGTERM (graceful shutdown), SIGKILL after 10 s.
func (in *Instance) Stop() {
	if in.Exited() {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.Kill()
	}
}

// Logs is everything the process wrote so far.
func (in *Instance) Logs() string { return in.logs.String() }

// Live are the instances whose process runs.
func (d *Deployment) Live() []*Instance {
	var live []*Instance
	for _, in := range d.Instances {
		if !in.Exited() {
			live = append(live, in)
		}
	}
	return live
}

// Answer is one HTTP exchange; Status 0 means no answer (Err says why).
type Answer struct {
	Status   int
	Header   http.Header
	Body     []byte
	Took     time.Duration
	Err      error
	Instance int
}

// Field returns a top-level string field of a JSON body.
func (a Answer) Field(name string) string {
	var m map[string]any
	_ = json.Unmarshal(a.Body, &m)
	s, _ := m[name].(string)
	return s
}

// ErrorCode is the error code of an error body.
func (a Answer) ErrorCode() string {
	var m struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(a.Body, &m)
	return m.Error.Code
}

// requestID is the request id of an error body.
func (a Answer) requestID() string {
	var m struct {
		Error struct {
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.Body, &m)
	return m.Error.RequestID
}

// Request is one call: Client names the caller's IP (X-Forwarded-For).
type Request struct {
	Method, Path, Bearer, Client string
	Body                         any
}

// Do sends r to the next live instance, round-robin.
func (d *Deployment) Do(r Request) Answer {
	live := d.Live()
	if len(live) == 0 {
		d.t.Fatal("no live instance")
	}
	return d.DoOn(live[int(d.next.Add(1))%len(live)], r)
}

// DoOn sends r to one instance.
func (d *Deployment) DoOn(in *Instance, r Request) Answer {
	var body io.Reader
	if r.Body != nil {
		b, _ := json.Marshal(r.Body)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(r.Method, in.URL+r.Path, body)
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.Bearer)
	}
	if r.Client != "" {
		req.Header.Set("X-Forwarded-For", r.Client)
	}
	start := time.Now()
	res, err := d.http.Do(req)
	a := Answer{Instance: in.N, Err: err}
	if err == nil {
		a.Body, a.Err = io.ReadAll(res.Body)
		res.Body.Close()
		a.Status, a.Header = res.StatusCode, res.Header
	}
	a.Took = time.Since(start)
	return a
}

// Tokens is a sign-in's or refresh's answer.
type Tokens struct {
	Access, Refresh string
}

// SignIn signs phone in by SMS code (send, then verify with the code the
// SMS box received) from client's IP; it fails the test on any error.
func (d *Deployment) SignIn(phone, client string) Tokens {
	d.t.Helper()
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/otp/send", Client: client, Body: map[string]string{"phone": phone}}); a.Status != 202 {
		d.t.Fatalf("send to %s: got %d %s %v", phone, a.Status, a.Body, a.Err)
	}
	code, err := d.SMS.Take(phone)
	if err != nil {
		d.t.Fatal(err)
	}
	a := d.Do(Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: client, Body: map[string]string{"phone": phone, "code": code}})
	if a.Status != 200 {
		d.t.Fatalf("verify %s: got %d %s %v", phone, a.Status, a.Body, a.Err)
	}
	return Tokens{Access: a.Field("access_token"), Refresh: a.Field("refresh_token")}
}

// DB opens a pool on the primary's service database, directly.
func (d *Deployment) DB() *sql.DB {
	d.t.Helper()
	db, err := sql.Open("postgres", d.DirectURL)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { db.Close() })
	return db
}

// QueryInt runs a query returning one integer on url.
func (d *Deployment) QueryInt(url, query string, args ...any) int {
	d.t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		d.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (d *Deployment) exec(url, stmt string) {
	d.t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		d.t.Fatalf("%s: %v", stmt, err)
	}
}

// waitStreaming waits until the standby streams from the primary (and,
// when sync, is the synchronous one).
func (d *Deployment) waitStreaming(sync bool) {
	d.t.Helper()
	want := "async"
	if sync {
		want = "sync"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := d.QueryInt(d.Primary.URL, `SELECT count(*) FROM pg_stat_replication
			WHERE application_name = 'standby1' AND state = 'streaming' AND sync_state = $1`, want)
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the standby is not streaming (%s) after 30s", want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// CutReplication cuts the network between primary and standby: the
// standby receives nothing more; the primary's WAL waits in buffers that
// the failover will drop.
func (d *Deployment) CutReplication() {
	d.t.Helper()
	if d.replication == nil {
		d.t.Fatal("no standby")
	}
	d.replication.Cut()
}

// StandbyURL reaches the service database on the standby, directly.
func (d *Deployment) StandbyURL() string { return dbURL(d.Standby.Port, Database) }

// Failover does what an HA manager (Patroni) does when the primary dies:
// the primary is stopped as by a crash, the standby promoted, PgBouncer
// pointed at it (its config rewritten and reloaded). It returns when
// PgBouncer has been repointed. pause is the time the HA manager takes to
// notice the dead primary (Patroni: up to its ttl, 30 s by default).
func (d *Deployment) Failover(pause time.Duration) {
	d.t.Helper()
	if d.Standby == nil || d.Bouncer == nil {
		d.t.Fatal("failover needs a standby and PgBouncer")
	}
	d.Primary.Kill()
	d.replication.Drop()
	time.Sleep(pause)
	d.Standby.Promote()
	d.Bouncer.Repoint(d.Standby.Port)
	d.Primary, d.Standby = d.Standby, nil
	d.DirectURL = dbURL(d.Primary.Port, Database)
}

func dbURL(port int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the service once per test process (the production build:
// -tags nographviz) and returns its path. Main removes it.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		dir, err := os.MkdirTemp("", "agency-deploytest-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "agency")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "nographviz", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Main runs the tests, then removes the binary Binary built.
func Main(m *testing.M) int {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

// moduleRoot is the folder of go.mod, above this package.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}
