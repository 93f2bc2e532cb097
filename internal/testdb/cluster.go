package testdb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a throwaway PostgreSQL server of one test's own: initdb in a
// temp folder, a free port on 127.0.0.1, stopped and removed when the test
// ends. Tests that break a database (stop it, restart it) use one, never
// the shared server.
type Cluster struct {
	// URL connects to its postgres database as the superuser postgres.
	URL  string
	Port int
	dir  string
	t    testing.TB
	// settings are extra server settings (name=value) given at every start.
	settings []string
}

// binDir holds initdb and pg_ctl; PG_BIN_DIR overrides it.
func binDir() string {
	if d := os.Getenv("PG_BIN_DIR"); d != "" {
		return d
	}
	for _, v := range []string{"17", "16", "15", "14"} {
		d := filepath.Join("/usr/lib/postgresql", v, "bin")
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// NewCluster creates and starts a cluster; the test is skipped when the
// PostgreSQL server binaries are not installed.
//
// settings (name=value) are given to the server at every start; a cluster
// that will have standbys needs none (PostgreSQL's defaults allow
// streaming replication on 127.0.0.1 with trust authentication).
func NewCluster(t testing.TB, settings ...string) *Cluster {
	t.Helper()
	c := newCluster(t, settings)
	if out, err := c.run(filepath.Join(binDir(), "initdb"), "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("testdb: initdb: %v\n%s", err, out)
	}
	c.Start()
	return c
}

// newCluster makes the folder and port of a cluster, removed (after an
// immediate stop) when the test ends.
func newCluster(t testing.TB, settings []string) *Cluster {
	t.Helper()
	if binDir() == "" {
		t.Skip("testdb: PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BIN_DIR")
	}
	dir, err := os.MkdirTemp("", "agency-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{dir: dir, Port: FreePort(t), t: t, settings: settings}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	t.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate", "-w")
		os.RemoveAll(dir)
	})
	if err := ChownToPostgres(dir); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// NewStandby makes a streaming standby of c (pg_basebackup -R, WAL
// streamed during the copy) on a port of its own and starts it. It
// streams from port of 127.0.0.1 (c's, or a proxy's in front of it) as
// application name, which c's synchronous_standby_names can list to make
// it synchronous.
func (c *Cluster) NewStandby(name string, port int) *Cluster {
	c.t.Helper()
	s := newCluster(c.t, c.settings)
	if out, err := s.run(filepath.Join(binDir(), "pg_basebackup"), "-D", s.data(), "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port),
		"-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync"); err != nil {
		c.t.Fatalf("testdb: pg_basebackup: %v\n%s", err, out)
	}
	conninfo := fmt.Sprintf("\nprimary_conninfo = 'host=127.0.0.1 port=%d user=postgres application_name=%s'\n", port, name)
	f, err := os.OpenFile(filepath.Join(s.data(), "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := f.WriteString(conninfo); err != nil {
		c.t.Fatal(err)
	}
	f.Close()
	s.Start()
	return s
}

// Promote makes a standby a primary and waits until it accepts writes.
func (c *Cluster) Promote() {
	c.t.Helper()
	if err := c.pgctl("promote", "-w", "-t", "30"); err != nil {
		c.t.Fatalf("testdb: promote: %v", err)
	}
}

// Kill stops the server as a crash would (immediate shutdown: no
// checkpoint, sessions cut).
func (c *Cluster) Kill() {
	c.t.Helper()
	if err := c.pgctl("stop", "-m", "immediate", "-w", "-t", "30"); err != nil {
		c.t.Fatalf("testdb: kill cluster: %v", err)
	}
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60", c.Port, c.dir)
	for _, s := range c.settings {
		opts += " -c " + s
	}
	if err := c.pgctl("start", "-w", "-t", "30", "-l", filepath.Join(c.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("testdb: start cluster: %v\n%s", err, log)
	}
}

// Stop stops the server (fast shutdown: sessions are ended).
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.pgctl("stop", "-m", "fast", "-w", "-t", "30"); err != nil {
		c.t.Fatalf("testdb: stop cluster: %v", err)
	}
}

// Restart stops and starts the server: every connection dies.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

func (c *Cluster) pgctl(args ...string) error {
	out, err := c.run(filepath.Join(binDir(), "pg_ctl"), append([]string{"-D", filepath.Join(c.dir, "data")}, args...)...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// run runs a server binary, as the postgres user when the test runs as
// root (PostgreSQL refuses to run as root).
func (c *Cluster) run(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	cmd.Dir = c.dir
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("timed out")
	}
	return out, err
}

// ChownToPostgres gives dir to the postgres user when running as root
// (the server binaries, and PgBouncer, run as that user then).
func ChownToPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("testdb: running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of asking.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
