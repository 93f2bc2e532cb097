package deploytest

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/testdb"
)

// Bouncer is a PgBouncer of one test's own, in transaction pooling mode,
// in front of a cluster on 127.0.0.1. It runs as the postgres user when the
// test runs as root (PgBouncer refuses root).
type Bouncer struct {
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	t    testing.TB
}

// StartBouncer starts PgBouncer in front of backendPort; the test is
// skipped when pgbouncer is not installed (`.ci/run` installs it).
func StartBouncer(t testing.TB, backendPort int) *Bouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Skip("pgbouncer is not installed (apt-get install pgbouncer)")
	}
	dir, err := os.MkdirTemp("", "agency-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bouncer{Port: testdb.FreePort(t), dir: dir, done: make(chan struct{}), t: t}
	t.Cleanup(func() { b.stop(); os.RemoveAll(dir) })
	b.writeConfig(backendPort)
	args := []string{b.ini()}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres"}, args...)
		if err := testdb.ChownToPostgres(dir); err != nil {
			t.Fatal(err)
		}
	}
	b.cmd = exec.Command(bin, args...)
	out := &apitest.LogBuffer{}
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db, _ := sql.Open("postgres", b.URL("postgres"))
		err := db.Ping()
		db.Close()
		if err == nil {
			return b
		}
		select {
		case <-b.done:
			t.Fatalf("pgbouncer exited: %s\n%s", out, b.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer does not answer: %v\n%s", err, b.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL reaches database db through PgBouncer.
func (b *Bouncer) URL(db string) string { return dbURL(b.Port, db) }

func (b *Bouncer) ini() string { return filepath.Join(b.dir, "pgbouncer.ini") }

// Log is PgBouncer's log file.
func (b *Bouncer) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	return string(data)
}

// writeConfig writes the configuration: every database of the backend,
// as postgres, transaction pooling. server_login_retry is short so a
// promoted standby is used within a second of the reload, and
// query_wait_timeout bounds a client's wait for a server connection
// (the service's own DB_QUERY_TIMEOUT cancels first).
func (b *Bouncer) writeConfig(backendPort int) {
	b.t.Helper()
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
reserve_pool_size = 0
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = 10
logfile = %s
pidfile = %s
`, backendPort, b.Port, filepath.Join(b.dir, "pgbouncer.log"), filepath.Join(b.dir, "pgbouncer.pid"))
	tmp := b.ini() + ".tmp"
	if err := os.WriteFile(tmp, []byte(ini), 0o644); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Rename(tmp, b.ini()); err != nil {
		b.t.Fatal(err)
	}
}

// Repoint points PgBouncer at another backend (a promoted standby): the
// configuration is rewritten and reloaded (SIGHUP), as an HA manager does.
// Server connections to the old backend are closed as they are released.
func (b *Bouncer) Repoint(backendPort int) {
	b.t.Helper()
	b.writeConfig(backendPort)
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		b.t.Fatalf("reload pgbouncer: %v", err)
	}
}

// Stop ends PgBouncer (SIGINT: at once).
func (b *Bouncer) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}
