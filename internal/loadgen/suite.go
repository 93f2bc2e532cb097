package loadgen

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agency-platform/agency/internal/accesstoken"
)

// The suite behind `make bench`: it starts `agency serve` on a fresh
// PostgreSQL database, signs its users in, runs every scenario at each
// concurrency, runs pgbench with the hot paths' SQL at the same
// concurrency in the same run (the ceiling PostgreSQL itself allows), and
// writes the figures and their ratios to bench/results.md.

//go:embed pgbench/*.sql
var pgbenchFiles embed.FS

// Suite configures a suite run.
type Suite struct {
	// Binary is the agency executable to serve (the running one by default).
	Binary string
	// AdminURL is a PostgreSQL server URL whose user may create databases.
	AdminURL    string
	Duration    time.Duration
	Concurrency []int
	Users       int
	// SignInRate is signin-storm's rate, sign-ins per second.
	SignInRate int
	// Scenarios to run (all by default).
	Scenarios []string
	// Out is the results file ("" writes none); Profile, when set, receives
	// a CPU profile of the server during the first scenario run.
	Out, Profile string
	// ServerEnv is added to the server's environment (KEY=VALUE).
	ServerEnv []string
	Log       io.Writer
}

// Run runs the suite.
func (s Suite) Run(ctx context.Context) error {
	if len(s.Scenarios) == 0 {
		s.Scenarios = Scenarios
	}
	dir, err := os.MkdirTemp("", "agency-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, dbURL, drop, err := s.createDatabase(ctx)
	if err != nil {
		return err
	}
	defer drop()
	box, err := ListenSMS("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer box.Close()
	srv, err := s.startServer(ctx, dir, dbURL, box)
	if err != nil {
		return err
	}
	defer srv.stop()
	b, err := New(Target{URL: srv.url, ServerPID: srv.cmd.Process.Pid, SMS: box, Progress: s.Log})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Log, "signing %d users in\n", s.Users)
	if err := b.Prepare(ctx, s.Users, 16); err != nil {
		return err
	}
	if err := seedPgbench(ctx, db); err != nil {
		return err
	}
	res, err := s.runAll(ctx, b, srv, dir, dbURL)
	if err != nil {
		return err
	}
	res.Machine = describeMachine(ctx, db)
	if s.Out == "" {
		return nil
	}
	return writeResults(s.Out, res)
}

// runAll runs the scenarios and ceilings at each concurrency, a hot path's
// ceilings right before it.
func (s Suite) runAll(ctx context.Context, b *Bench, srv *server, dir, dbURL string) (*Results, error) {
	res := &Results{Duration: s.Duration, Users: s.Users}
	profiled := s.Profile == ""
	for _, c := range s.Concurrency {
		for _, name := range s.Scenarios {
			for _, script := range ceilingsOf[name] {
				cl, err := runPgbench(ctx, dir, dbURL, script, c, s.Duration)
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(s.Log, "pgbench %s c=%d: %.0f TPS\n", script, c, cl.TPS)
				res.Ceilings = append(res.Ceilings, cl)
			}
			l := Load{Duration: s.Duration, Concurrency: c}
			if name == ScenarioSignInStorm {
				l.Rate = s.SignInRate
			}
			var prof chan error
			if !profiled {
				profiled, prof = true, srv.profile(s.Profile, s.Duration)
			}
			r, err := b.Run(ctx, name, l)
			if err != nil {
				return nil, err
			}
			if prof != nil {
				if err := <-prof; err != nil {
					return nil, err
				}
				fmt.Fprintf(s.Log, "CPU profile of the server written to %s\n", s.Profile)
			}
			r.Write(s.Log)
			res.Runs = append(res.Runs, r)
		}
	}
	return res, nil
}

// ceilingsOf names the pgbench scripts measured before a scenario: the
// issue's minimal SQL of the hot path, and the service's own statement.
var ceilingsOf = map[string][]string{
	ScenarioMe:      {"me-minimal.sql", "me.sql"},
	ScenarioRefresh: {"refresh-minimal.sql", "refresh.sql"},
}

// createDatabase creates a fresh database on the admin URL's server and
// returns a pool on it, its URL and a function dropping it.
func (s Suite) createDatabase(ctx context.Context) (*sql.DB, string, func(), error) {
	admin, err := sql.Open("postgres", s.AdminURL)
	if err != nil {
		return nil, "", nil, err
	}
	name := "agency_bench_" + randomHex(4)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, "", nil, fmt.Errorf("bench: create database: %w", err)
	}
	u, err := url.Parse(s.AdminURL)
	if err != nil {
		admin.Close()
		return nil, "", nil, err
	}
	u.Path = "/" + name
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		admin.Close()
		return nil, "", nil, err
	}
	drop := func() {
		db.Close()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}
	return db, u.String(), drop, nil
}

// server is the agency serve process under load.
type server struct {
	cmd       *exec.Cmd
	url       string
	pprofAddr string
	done      chan error
}

// startServer starts `agency serve` as the production configuration would
// run it (JSON logs to a file, real secrets, the webhook SMS sender),
// with the per-client limits raised for a load from one address.
func (s Suite) startServer(ctx context.Context, dir, dbURL string, box *SMSBox) (*server, error) {
	key, err := accesstoken.GenerateES256PEM()
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "jwt.pem")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		return nil, err
	}
	addr, pprofAddr := freeAddr(), ""
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "APP_ENV=production", "DATABASE_URL=" + dbURL,
		"HTTP_ADDR=" + addr, "SMS_PROVIDER=webhook", "SMS_WEBHOOK_URL=" + box.URL(),
		"OTP_SECRET=" + randomHex(32), "REFRESH_TOKEN_SECRET=" + randomHex(32), "JWT_PRIVATE_KEY=" + keyFile,
		"ACCESS_TOKEN_TTL=2h", "OTP_MAX_SENDS_PER_IP_PER_HOUR=100000000", "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR=100000000"}
	env = append(env, s.ServerEnv...)
	if s.Profile != "" {
		pprofAddr = freeAddr()
		env = append(env, "PPROF_ADDR="+pprofAddr)
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	binary := s.Binary
	if binary == "" {
		binary, err = os.Executable()
	} else {
		binary, err = filepath.Abs(binary) // the server runs in dir
	}
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, logFile, logFile, dir
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start server: %w", err)
	}
	srv := &server{cmd: cmd, url: "http://" + addr, pprofAddr: pprofAddr, done: make(chan error, 1)}
	go func() { srv.done <- cmd.Wait(); logFile.Close() }()
	if err := srv.waitReady(ctx, 30*time.Second); err != nil {
		srv.stop()
		log, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return srv, nil
}

func (srv *server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-srv.done:
			return fmt.Errorf("bench: the server exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if res, err := http.Get(srv.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("bench: the server was not ready within %s", timeout)
}

// stop ends the server as an orchestrator would (SIGTERM), then kills it
// if it has not exited within 20 s.
func (srv *server) stop() {
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		_ = srv.cmd.Process.Kill()
		<-srv.done
	}
}

// profile fetches a CPU profile of the server covering the next d into
// path, in the background.
func (srv *server) profile(path string, d time.Duration) chan error {
	done := make(chan error, 1)
	go func() {
		secs := int(d.Seconds()) - 1
		res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", srv.pprofAddr, max(secs, 1)))
		if err != nil {
			done <- err
			return
		}
		defer res.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, res.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}

// seedPgbench adds the rows the pgbench scripts use.
func seedPgbench(ctx context.Context, db *sql.DB) error {
	seed, err := pgbenchFiles.ReadFile("pgbench/seed.sql")
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, string(seed)); err != nil {
		return fmt.Errorf("bench: seed the pgbench rows: %w", err)
	}
	return nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pgbenchPath finds pgbench on PATH or in Debian's PostgreSQL folders.
func pgbenchPath() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench"); len(m) > 0 {
		return m[len(m)-1], nil
	}
	return "", fmt.Errorf("bench: pgbench not found (Debian: apt-get install postgresql-client)")
}

// oneLine keeps the last line of a command's output (its error) for an error.
func oneLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
