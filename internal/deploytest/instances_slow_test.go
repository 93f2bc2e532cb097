//go:build slow

package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/fakeidp"
)

// The slow tests run the real binary against clusters of their own:
// `make test-slow` (go test -tags slow ./internal/deploytest).

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// via is how the instances reach PostgreSQL.
var via = []struct {
	name      string
	pgbouncer bool
}{{"direct", false}, {"pgbouncer", true}}

// TestInstances: three instances of the binary on one database, directly
// and through PgBouncer in transaction mode, keep every invariant a single
// instance keeps: migrations applied once, OTP limits, one live token per
// session under concurrent refreshes, the device limit under concurrent
// sign-ins, one cleanup at a time, and every webhook event delivered once,
// each user's in order, with all three deliverers running.
func TestInstances(t *testing.T) {
	for _, v := range via {
		t.Run(v.name, func(t *testing.T) {
			idp := fakeidp.New(t)
			sink := newHookSink(t)
			d := Start(t, Options{Instances: 3, PgBouncer: v.pgbouncer, Env: []string{
				"WEBHOOK_URL=" + sink.URL, "WEBHOOK_SECRET=" + webhookSecret,
				"OTP_RESEND_COOLDOWN=2s", "OTP_MAX_SENDS_PER_HOUR=3", "OTP_MAX_SENDS_PER_IP_PER_HOUR=4",
				"OTP_MAX_ATTEMPTS=5", "OTP_MAX_FAILURES_PER_DAY=8", "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR=6",
				"MAX_SESSIONS_PER_USER=5", "CLEANUP_INTERVAL=1s", "LOG_LEVEL=debug",
				"GOOGLE_ISSUER_URL=" + idp.URL, "GOOGLE_CLIENT_IDS=web.apps.test", "PROVIDER_SIGNINS_PER_IP_PER_HOUR=1000",
			}})
			t.Run("migrations applied once", func(t *testing.T) { migratedOnce(t, d) })
			if v.pgbouncer {
				t.Run("session state off behind the pooler", func(t *testing.T) { pooledSessionState(t, d) })
				t.Run("prepared statements forced on behind the pooler", func(t *testing.T) { preparedForcedOn(t, d) })
			}
			avoidHourBoundary(t)
			t.Run("otp cooldown and per-number budget", func(t *testing.T) { otpPerNumber(t, d) })
			t.Run("otp per-ip send budget", func(t *testing.T) { otpPerIP(t, d) })
			t.Run("otp attempts", func(t *testing.T) { otpAttempts(t, d) })
			t.Run("otp daily failure budget", func(t *testing.T) { otpDailyFailures(t, d) })
			t.Run("otp per-ip verify budget", func(t *testing.T) { otpVerifyPerIP(t, d) })
			t.Run("50 concurrent refreshes of one token", func(t *testing.T) { refreshStorm(t, d) })
			t.Run("20 concurrent sign-ins of one user", func(t *testing.T) { signInStorm(t, d, idp) })
			t.Run("one cleanup at a time", func(t *testing.T) { cleanupExclusive(t, d) })
			t.Run("webhooks delivered once each, in order", func(t *testing.T) { webhooksOnce(t, d, sink) })
			for _, in := range d.Instances {
				if logs := in.Logs(); strings.Contains(logs, `"level":"ERROR"`) {
					t.Errorf("instance %d logged an error:\n%s", in.N, errorLines(logs))
				}
			}
		})
	}
}

// migratedOnce: the three instances started at the same moment on an
// empty database; every migration file is recorded once, and the
// instances' logs add up to one application of each.
func migratedOnce(t *testing.T, d *Deployment) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "migrations", "postgres", "*.sql"))
	if len(files) == 0 {
		t.Fatal("no migration files found")
	}
	rows := d.QueryInt(d.DirectURL, `SELECT count(*) FROM atlas_schema_revisions.atlas_schema_revisions WHERE type <> 1`)
	distinct := d.QueryInt(d.DirectURL, `SELECT count(DISTINCT version) FROM atlas_schema_revisions.atlas_schema_revisions WHERE type <> 1`)
	if rows != len(files) || distinct != len(files) {
		t.Fatalf("revisions: %d rows, %d versions; want %d of each (one per file)", rows, distinct, len(files))
	}
	applied := 0
	for _, in := range d.Instances {
		applied += countApplied(t, in.Logs())
	}
	if applied != len(files) {
		t.Fatalf("the instances applied %d migrations in all, want %d (each once)", applied, len(files))
	}
}

// countApplied reads the count of the "migrations applied" log line.
func countApplied(t *testing.T, logs string) int {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"migrations applied"`) {
			var n int
			i := strings.Index(line, `"count":`)
			fmt.Sscanf(line[i+len(`"count":`):], "%d", &n)
			return n
		}
	}
	t.Fatalf("no \"migrations applied\" line in:\n%s", logs)
	return 0
}

// pooledSessionState: each instance found the transaction pooler and runs
// without prepared statements, migrating on MIGRATION_DATABASE_URL; the
// migration commands refuse to take their lock through PgBouncer.
func pooledSessionState(t *testing.T, d *Deployment) {
	for _, in := range d.Instances {
		logs := in.Logs()
		if !strings.Contains(logs, "goes through a transaction pooler") || !strings.Contains(logs, `"prepared_statements":false`) {
			t.Errorf("instance %d did not find PgBouncer or kept prepared statements:\n%s", in.N, logs)
		}
		if !strings.Contains(logs, "migrating on MIGRATION_DATABASE_URL") {
			t.Errorf("instance %d did not migrate on MIGRATION_DATABASE_URL:\n%s", in.N, logs)
		}
	}
	for _, args := range [][]string{{"migrate", "apply"}, {"migrate", "status"}} {
		cmd := exec.Command(Binary(t), args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+d.DatabaseURL, "DB_CONNECT_TIMEOUT=5s")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "MIGRATION_DATABASE_URL") {
			t.Errorf("agency %s through PgBouncer: got %v\n%s\nwant a refusal naming MIGRATION_DATABASE_URL", strings.Join(args, " "), err, out)
		}
	}
	// With MIGRATION_DATABASE_URL direct, the same command works (and finds
	// nothing to do), and no advisory lock is left behind on any session.
	cmd := exec.Command(Binary(t), "migrate", "apply")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+d.DatabaseURL, "MIGRATION_DATABASE_URL="+d.DirectURL)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "up to date") {
		t.Errorf("agency migrate apply with MIGRATION_DATABASE_URL: got %v\n%s", err, out)
	}
	if n := d.QueryInt(d.DirectURL, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'`); n != 0 {
		t.Errorf("%d advisory locks are held after migrating", n)
	}
}

// preparedForcedOn: an instance told to prepare statements behind
// PgBouncer (DB_PREPARED_STATEMENTS=true, or a startup check that missed
// the pooler) finds out from the first named statement the server does not
// have, turns them off and goes on unnamed: under concurrent sign-ins,
// refreshes and who-am-I, never a 500, a few 503s at most, then only
// successes.
func preparedForcedOn(t *testing.T, d *Deployment) {
	in := d.Launch("DB_PREPARED_STATEMENTS=true")
	if err := in.waitReady(20 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, in.Logs())
	}
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				phone := fmt.Sprintf("+9193%08d", w*100+i)
				client := fmt.Sprintf("10.11.%d.%d", w, i)
				record := func(a Answer) Answer {
					mu.Lock()
					statuses[a.Status]++
					mu.Unlock()
					return a
				}
				if record(d.DoOn(in, Request{Method: "POST", Path: "/v1/auth/otp/send", Client: client, Body: map[string]string{"phone": phone}})).Status != 202 {
					continue
				}
				code, err := d.SMS.Take(phone)
				if err != nil {
					continue
				}
				a := record(d.DoOn(in, Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: client, Body: map[string]string{"phone": phone, "code": code}}))
				if a.Status != 200 {
					continue
				}
				record(d.DoOn(in, Request{Method: "GET", Path: "/v1/me", Bearer: a.Field("access_token")}))
				record(d.DoOn(in, Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": a.Field("refresh_token")}}))
			}
		}()
	}
	wg.Wait()
	if statuses[500] > 0 || statuses[0] > 0 || statuses[503] > 8 {
		t.Fatalf("an instance preparing statements behind PgBouncer: statuses %v, want no 500 and few 503s\n%s", statuses, errorLines(in.Logs()))
	}
	for i := range 20 {
		if a := d.DoOn(in, Request{Method: "GET", Path: "/readyz"}); a.Status != 200 {
			t.Fatalf("readyz %d after the switch: got %d", i, a.Status)
		}
	}
	t.Logf("prepared statements forced on behind PgBouncer: statuses %v", statuses)
}

// burst sends n copies of r at once, spread over the instances, and
// returns the answers.
func burst(d *Deployment, n int, r func(i int) Request) []Answer {
	out := make([]Answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; out[i] = d.Do(r(i)) }()
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts answers by "status code" (e.g. "202", "429 otp_resend_too_soon").
func tally(answers []Answer) map[string]int {
	m := map[string]int{}
	for _, a := range answers {
		k := fmt.Sprint(a.Status)
		if c := a.ErrorCode(); c != "" {
			k += " " + c
		}
		if a.Err != nil {
			k = "no answer: " + a.Err.Error()
		}
		m[k]++
	}
	return m
}

var phoneSeq = struct {
	sync.Mutex
	n int
}{}

// newPhone is a valid number not used before in this process.
func newPhone() string {
	phoneSeq.Lock()
	defer phoneSeq.Unlock()
	phoneSeq.n++
	return fmt.Sprintf("+9198%08d", time.Now().UnixNano()%1e6*100+int64(phoneSeq.n)%100)
}

// otpPerNumber: 10 concurrent sends to one number over three instances
// pass the cooldown once; after each cooldown one more passes, until the
// per-number budget (3 an hour) refuses them all. (Sends that lose the
// cooldown race after counting against the budget give their count back,
// so a concurrent one may briefly see the budget full: every refusal is a
// 429 either way.)
func otpPerNumber(t *testing.T, d *Deployment) {
	phone := newPhone()
	for round := 1; round <= 4; round++ {
		got := tally(burst(d, 10, func(i int) Request {
			return Request{Method: "POST", Path: "/v1/auth/otp/send", Client: fmt.Sprintf("10.1.%d.%d", round, i), Body: map[string]string{"phone": phone}}
		}))
		sent := 1
		if round == 4 {
			sent = 0
		}
		if got["202"] != sent || got["202"]+got["429 otp_resend_too_soon"]+got["429 rate_limited"] != 10 {
			t.Fatalf("round %d of 10 concurrent sends to one number: got %v, want %d sent and the rest 429", round, got, sent)
		}
		if round == 4 && got["429 rate_limited"] != 10 {
			t.Fatalf("10 concurrent sends once the number's hourly budget is spent: got %v, want 10 rate_limited", got)
		}
		time.Sleep(2100 * time.Millisecond)
	}
}

// avoidHourBoundary waits until the next hour has begun when it is less
// than 30 s away: the send limits count in fixed hourly windows, and a
// test whose bursts straddle two windows would see both budgets.
func avoidHourBoundary(t *testing.T) {
	left := time.Until(time.Now().Truncate(time.Hour).Add(time.Hour))
	if left < 30*time.Second {
		t.Logf("waiting %v for the next hourly window", left.Round(time.Second))
		time.Sleep(left + time.Second)
	}
}

// equalTally reports whether two tallies hold the same counts.
func equalTally(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// otpPerIP: 12 concurrent sends from one client to 12 numbers: exactly
// the per-IP budget (4) pass.
func otpPerIP(t *testing.T, d *Deployment) {
	phones := make([]string, 12)
	for i := range phones {
		phones[i] = newPhone()
	}
	got := tally(burst(d, 12, func(i int) Request {
		return Request{Method: "POST", Path: "/v1/auth/otp/send", Client: "10.2.0.1", Body: map[string]string{"phone": phones[i]}}
	}))
	if !equalTally(got, map[string]int{"202": 4, "429 rate_limited": 8}) {
		t.Fatalf("12 concurrent sends from one client: got %v, want 4 sent (OTP_MAX_SENDS_PER_IP_PER_HOUR) and 8 refused", got)
	}
}

// sendCode sends a code to phone from client and returns it.
func sendCode(t *testing.T, d *Deployment, phone, client string) string {
	t.Helper()
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/otp/send", Client: client, Body: map[string]string{"phone": phone}}); a.Status != 202 {
		t.Fatalf("send: got %d %s", a.Status, a.Body)
	}
	code, err := d.SMS.Take(phone)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrong is a code that is not code.
func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// otpAttempts: 10 concurrent wrong guesses at one code over three
// instances, each from its own client: exactly OTP_MAX_ATTEMPTS (5) are
// judged, the rest refused, and the right code no longer works.
func otpAttempts(t *testing.T, d *Deployment) {
	phone := newPhone()
	code := sendCode(t, d, phone, "10.3.0.1")
	got := guess(d, phone, code, 10, "10.3.1.")
	if got["401 invalid_otp"] != 5 || got["401 invalid_otp"]+got["401 otp_attempts_exceeded"]+got["429 rate_limited"] != 10 {
		t.Fatalf("10 concurrent wrong guesses at one code: got %v, want 5 invalid_otp, the others refused", got)
	}
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: "10.3.0.2", Body: map[string]string{"phone": phone, "code": code}}); a.Status == 200 {
		t.Fatalf("the right code after its attempts were spent: got 200, want a refusal")
	}
}

// guess sends n concurrent wrong guesses at phone's code, each from its
// own client (prefix + i).
func guess(d *Deployment, phone, code string, n int, prefix string) map[string]int {
	return tally(burst(d, n, func(i int) Request {
		return Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: prefix + fmt.Sprint(i),
			Body: map[string]string{"phone": phone, "code": wrong(code)}}
	}))
}

// otpDailyFailures: 4 wrong guesses, the code used, then 10 concurrent
// wrong guesses at a second code: only the rest of the phone's daily
// failure budget (8 - 4 = 4) is judged; the phone is then locked, and
// even its right code is refused.
func otpDailyFailures(t *testing.T, d *Deployment) {
	phone := newPhone()
	code := sendCode(t, d, phone, "10.7.0.1")
	if got := guess(d, phone, code, 4, "10.7.1."); got["401 invalid_otp"] != 4 {
		t.Fatalf("4 wrong guesses: got %v, want 4 invalid_otp", got)
	}
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: "10.7.0.2", Body: map[string]string{"phone": phone, "code": code}}); a.Status != 200 {
		t.Fatalf("the right code: got %d %s", a.Status, a.Body)
	}
	time.Sleep(2100 * time.Millisecond) // resend cooldown
	code = sendCode(t, d, phone, "10.7.0.3")
	got := guess(d, phone, code, 10, "10.7.2.")
	if got["401 invalid_otp"] != 4 || got["429 rate_limited"] != 6 {
		t.Fatalf("10 concurrent wrong guesses with 4 failures left of the phone's daily budget: got %v, want 4 invalid_otp and 6 rate_limited", got)
	}
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: "10.7.0.4", Body: map[string]string{"phone": phone, "code": code}}); a.Status != 429 {
		t.Fatalf("the right code once the phone's daily failure budget is spent: got %d %s, want 429", a.Status, a.Body)
	}
}

// otpVerifyPerIP: one client guesses 4 times at each of three numbers,
// 12 at once: exactly its hourly budget of wrong codes (6) is judged.
func otpVerifyPerIP(t *testing.T, d *Deployment) {
	phones := []string{newPhone(), newPhone(), newPhone()}
	codes := make([]string, len(phones))
	for i, p := range phones {
		codes[i] = sendCode(t, d, p, fmt.Sprintf("10.4.0.%d", i))
	}
	got := tally(burst(d, 12, func(i int) Request {
		return Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: "10.4.1.1",
			Body: map[string]string{"phone": phones[i%3], "code": wrong(codes[i%3])}}
	}))
	if got["401 invalid_otp"] != 6 || got["429 rate_limited"] != 6 {
		t.Fatalf("12 concurrent wrong guesses from one client: got %v, want 6 invalid_otp and 6 rate_limited", got)
	}
}

// refreshStorm: 50 concurrent refreshes of one token over three instances
// all succeed with the same new token (one rotation, the rest grace
// replays); the session is one row, one generation further.
func refreshStorm(t *testing.T, d *Deployment) {
	tok := d.SignIn(newPhone(), "10.5.0.1")
	answers := burst(d, 50, func(int) Request {
		return Request{Method: "POST", Path: "/v1/auth/refresh", Client: "10.5.0.2", Body: map[string]string{"refresh_token": tok.Refresh}}
	})
	var issued []string
	for _, a := range answers {
		if a.Status != 200 {
			t.Fatalf("a concurrent refresh: got %d %s %v, want 200 (grace replay)", a.Status, a.Body, a.Err)
		}
		if r := a.Field("refresh_token"); !slices.Contains(issued, r) {
			issued = append(issued, r)
		}
	}
	if len(issued) != 1 {
		t.Fatalf("50 concurrent refreshes issued %d different refresh tokens, want 1", len(issued))
	}
	uid := userOf(t, d, tok.Access)
	if n := d.QueryInt(d.DirectURL, `SELECT count(*) FROM user_refresh_tokens WHERE user_id = $1`, uid); n != 1 {
		t.Fatalf("sessions of the user: %d, want 1", n)
	}
	if g := d.QueryInt(d.DirectURL, `SELECT generation FROM user_refresh_tokens WHERE user_id = $1`, uid); g != 1 {
		t.Fatalf("generation after one rotation: %d, want 1", g)
	}
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": issued[0]}}); a.Status != 200 {
		t.Fatalf("the one issued token: got %d %s, want 200", a.Status, a.Body)
	}
}

// userOf is the user id behind an access token (GET /v1/me).
func userOf(t *testing.T, d *Deployment, access string) string {
	t.Helper()
	a := d.Do(Request{Method: "GET", Path: "/v1/me", Bearer: access})
	if a.Status != 200 || a.Field("id") == "" {
		t.Fatalf("me: got %d %s", a.Status, a.Body)
	}
	return a.Field("id")
}

// signInStorm: 20 concurrent Google sign-ins of one user over three
// instances leave MAX_SESSIONS_PER_USER (5) sessions, never more.
func signInStorm(t *testing.T, d *Deployment, idp *fakeidp.Server) {
	token := idp.Token(t, idp.Claims("storm-user", "web.apps.test", time.Now()))
	answers := burst(d, 20, func(i int) Request {
		return Request{Method: "POST", Path: "/v1/auth/google", Client: fmt.Sprintf("10.6.0.%d", i),
			Body: map[string]string{"id_token": token, "device_info": fmt.Sprintf("device %d", i)}}
	})
	for _, a := range answers {
		if a.Status != 200 {
			t.Fatalf("a concurrent sign-in: got %d %s %v, want 200", a.Status, a.Body, a.Err)
		}
	}
	if n := d.QueryInt(d.DirectURL, `SELECT count(*) FROM user_auth_identities WHERE provider = 'google' AND provider_id = 'storm-user'`); n != 1 {
		t.Fatalf("identities of one Google account: %d, want 1 (one user)", n)
	}
	if n := d.QueryInt(d.DirectURL, `SELECT count(*) FROM user_refresh_tokens WHERE user_id =
		(SELECT user_id FROM user_auth_identities WHERE provider = 'google' AND provider_id = 'storm-user')`); n != 5 {
		t.Fatalf("sessions after 20 concurrent sign-ins: %d, want MAX_SESSIONS_PER_USER (5)", n)
	}
}

// cleanupExclusive: the three instances run the cleanup every second; a
// probe (statement triggers on the tables it deletes from, the first
// sleeping 300 ms) records when each run's transaction starts and ends
// deleting: no two runs overlap, and the runs went on.
func cleanupExclusive(t *testing.T, d *Deployment) {
	db := d.DB()
	for _, stmt := range []string{
		`CREATE TABLE cleanup_probe (txid bigint, phase text, at timestamptz)`,
		`CREATE FUNCTION cleanup_probe_begin() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN INSERT INTO cleanup_probe VALUES (txid_current(), 'begin', clock_timestamp()); PERFORM pg_sleep(0.3); RETURN NULL; END $$`,
		`CREATE FUNCTION cleanup_probe_end() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN INSERT INTO cleanup_probe VALUES (txid_current(), 'end', clock_timestamp()); RETURN NULL; END $$`,
		`CREATE TRIGGER cleanup_probe_begin BEFORE DELETE ON phone_otps FOR EACH STATEMENT EXECUTE FUNCTION cleanup_probe_begin()`,
		`CREATE TRIGGER cleanup_probe_end AFTER DELETE ON auth_rate_limits FOR EACH STATEMENT EXECUTE FUNCTION cleanup_probe_end()`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	time.Sleep(6 * time.Second)
	if _, err := db.Exec(`DROP TRIGGER cleanup_probe_begin ON phone_otps; DROP TRIGGER cleanup_probe_end ON auth_rate_limits`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT b.at, e.at FROM cleanup_probe b JOIN cleanup_probe e ON e.txid = b.txid AND e.phase = 'end'
		WHERE b.phase = 'begin' ORDER BY b.at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var runs [][2]time.Time
	for rows.Next() {
		var r [2]time.Time
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	if len(runs) < 3 {
		t.Fatalf("%d cleanup runs in 6 s on three instances (1 s apart), want at least 3", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		if runs[i][0].Before(runs[i-1][1]) {
			t.Fatalf("cleanup runs overlap: one from %v to %v, the next starts at %v", runs[i-1][0], runs[i-1][1], runs[i][0])
		}
	}
	skipped := 0
	for _, in := range d.Instances {
		skipped += strings.Count(in.Logs(), "cleanup skipped")
	}
	t.Logf("%d cleanup runs, none overlapping; %d skipped because another instance held the lock", len(runs), skipped)
}

// errorLines keeps a log's ERROR lines.
func errorLines(logs string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
