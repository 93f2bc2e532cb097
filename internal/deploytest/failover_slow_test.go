//go:build slow

package deploytest

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// chain is one client's session as the client knows it: the last token
// pair the service answered 200 with.
type chain struct {
	phone  string
	tokens Tokens
	// acked counts the rotations answered 200 (0 after the sign-in).
	acked int
}

// sessionOf decodes a refresh token's session id and generation (its
// first 24 bytes; see services/refreshtoken.go).
func sessionOf(t *testing.T, refresh string) (uuid.UUID, int64) {
	b, err := base64.RawURLEncoding.DecodeString(refresh)
	if err != nil || len(b) < 24 {
		t.Fatalf("refresh token not in the expected form: %v", err)
	}
	id, _ := uuid.FromBytes(b[:16])
	return id, int64(binary.BigEndian.Uint64(b[16:24]))
}

// record is one answer of the load, timed.
type record struct {
	at     time.Time
	status int
	code   string
	took   time.Duration
	err    error
	path   string
	retry  string // Retry-After
	id     string // request id of an error
}

// mixedLoad runs workers until stop is closed: each signs a user in, then
// refreshes (each rotation recorded when answered 200), asks who-am-I
// every third round, and signs a new user in every tenth. It returns every
// chain (every sign-in answered 200) and every answer.
type mixedLoad struct {
	d       *Deployment
	mu      sync.Mutex
	chains  []*chain
	records []record
	seq     int
}

func (l *mixedLoad) do(r Request) Answer {
	a := l.d.Do(r)
	l.mu.Lock()
	l.records = append(l.records, record{at: time.Now(), status: a.Status, code: a.ErrorCode(), took: a.Took, err: a.Err, path: r.Path,
		retry: a.Header.Get("Retry-After"), id: a.requestID()})
	l.mu.Unlock()
	return a
}

// signIn tries one sign-in (send, verify); nil unless answered 200.
func (l *mixedLoad) signIn(worker int) *chain {
	l.mu.Lock()
	l.seq++
	phone := fmt.Sprintf("+9197%08d", worker*1_000_000+l.seq)
	l.mu.Unlock()
	client := fmt.Sprintf("10.9.%d.1", worker)
	if a := l.do(Request{Method: "POST", Path: "/v1/auth/otp/send", Client: client, Body: map[string]string{"phone": phone}}); a.Status != 202 {
		return nil
	}
	code, err := l.d.SMS.Take(phone)
	if err != nil {
		return nil
	}
	a := l.do(Request{Method: "POST", Path: "/v1/auth/otp/verify", Client: client, Body: map[string]string{"phone": phone, "code": code}})
	if a.Status != 200 {
		return nil
	}
	c := &chain{phone: phone, tokens: Tokens{Access: a.Field("access_token"), Refresh: a.Field("refresh_token")}}
	l.mu.Lock()
	l.chains = append(l.chains, c)
	l.mu.Unlock()
	return c
}

func (l *mixedLoad) run(workers int, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine *chain
			for round := 0; ; round++ {
				select {
				case <-stop:
					return
				default:
				}
				if mine == nil || round%10 == 9 {
					if c := l.signIn(w); c != nil {
						mine = c
					}
					if mine == nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
				}
				if round%3 == 2 {
					l.do(Request{Method: "GET", Path: "/v1/me", Bearer: mine.tokens.Access})
				}
				a := l.do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": mine.tokens.Refresh}})
				if a.Status == 200 {
					mine.tokens = Tokens{Access: a.Field("access_token"), Refresh: a.Field("refresh_token")}
					mine.acked++
				} else if a.Status == 0 || a.Status >= 500 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return &wg
}

// verdict sorts the chains after the load: present (the session holds the
// client's last token), rotated (it holds the next one: a rotation that
// committed but whose answer was lost), set back (it holds an older one:
// acknowledged rotations are missing; the service catches such a session
// up with its client's token) or gone (an acknowledged sign-in is
// missing).
type verdict struct {
	present, rotated int
	setBack, gone    []string
}

// lost is every acknowledged write missing from the database.
func (v verdict) lost() []string { return append(slices.Clone(v.setBack), v.gone...) }

func (d *Deployment) judge(t *testing.T, chains []*chain) verdict {
	db := d.DB()
	var v verdict
	for _, c := range chains {
		id, gen := sessionOf(t, c.tokens.Refresh)
		var stored int64
		err := db.QueryRow(`SELECT generation FROM user_refresh_tokens WHERE id = $1`, id).Scan(&stored)
		switch {
		case err != nil:
			v.gone = append(v.gone, fmt.Sprintf("%s: session %s (generation %d, acknowledged) is gone: %v", c.phone, id, gen, err))
		case stored == gen:
			v.present++
		case stored == gen+1:
			v.rotated++
		case stored < gen:
			v.setBack = append(v.setBack, fmt.Sprintf("%s: session %s holds generation %d, the client was answered %d", c.phone, id, stored, gen))
		default:
			t.Errorf("%s: session %s holds generation %d, two after the client's %d", c.phone, id, stored, gen)
		}
	}
	return v
}

// failoverPause is how long the primary stays dead before the standby is
// promoted: longer than DB_QUERY_TIMEOUT, so requests that wait for the
// database meet their deadline.
const failoverPause = 4 * time.Second

// replicationCut is how long the standby receives nothing before the
// primary dies (a network fault between them, or a standby that lags).
const replicationCut = time.Second

// TestFailover: a mixed load through PgBouncer against a primary with a
// synchronous (then an asynchronous) standby; replication is cut, 1 s later
// the primary is stopped as by a crash, 4 s later the standby promoted and
// PgBouncer repointed, as an HA manager does. During the switch the API answers 503 with Retry-After, never a
// 500, never slower than DB_QUERY_TIMEOUT allows; within 10 s of the
// switch every request succeeds again without restarting an instance.
// Synchronous: every sign-in and rotation answered 200 before the failure
// is on the new primary (each client's last token still refreshes, or
// was rotated by a request whose answer was lost). Asynchronous: the
// acknowledged writes lost are counted and reported.
func TestFailover(t *testing.T) {
	for _, mode := range []struct {
		name string
		rep  Replication
	}{{"synchronous", Synchronous}, {"asynchronous", Asynchronous}} {
		t.Run(mode.name, func(t *testing.T) {
			d := Start(t, Options{Instances: 2, Standby: mode.rep, PgBouncer: true, Env: []string{
				"DB_QUERY_TIMEOUT=3s", "OTP_MAX_SENDS_PER_IP_PER_HOUR=100000", "REFRESH_REUSE_GRACE=30s",
			}})
			load := &mixedLoad{d: d}
			stop := make(chan struct{})
			wg := load.run(8, stop)
			time.Sleep(4 * time.Second)
			// The standby stops receiving 1 s before the primary dies: an
			// asynchronous primary goes on acknowledging writes it alone
			// holds; a synchronous one makes them wait for the standby.
			d.CutReplication()
			time.Sleep(replicationCut)
			before := len(load.chains)
			failStart := time.Now()
			d.Failover(failoverPause)
			switched := time.Now()
			time.Sleep(14 * time.Second)
			close(stop)
			wg.Wait()

			var (
				errs    = map[string]int{}
				lastErr time.Time
				slowest time.Duration
				total   int
			)
			for _, r := range load.records {
				if r.at.Before(failStart.Add(-replicationCut)) {
					if r.status >= 500 || r.status == 0 {
						t.Errorf("before the failover: %s got %d %s %v", r.path, r.status, r.code, r.err)
					}
					continue
				}
				total++
				slowest = max(slowest, r.took)
				if r.status >= 500 || r.status == 0 {
					errs[fmt.Sprintf("%d %s", r.status, r.code)]++
					lastErr = r.at
					if r.status == 503 && r.retry == "" {
						t.Errorf("a 503 during the switch without Retry-After")
					}
				}
			}
			for k := range errs {
				if k != "503 unavailable" {
					t.Errorf("during the switch: %d answers %q, want only 503 unavailable", errs[k], k)
				}
			}
			recovery := time.Duration(0)
			if !lastErr.IsZero() {
				recovery = lastErr.Sub(switched)
			}
			if recovery > 10*time.Second {
				t.Errorf("errors went on %v after the switch, want at most 10s", recovery)
			}
			if slowest > 3500*time.Millisecond {
				var slow []string
				for _, r := range load.records {
					if r.took > 3500*time.Millisecond {
						slow = append(slow, fmt.Sprintf("%s %d %s %v at +%v", r.path, r.status, r.code, r.took.Round(time.Millisecond), r.at.Sub(failStart).Round(time.Millisecond)))
						for _, in := range d.Instances {
							for _, line := range strings.Split(in.Logs(), "\n") {
								if r.id != "" && strings.Contains(line, r.id) {
									slow = append(slow, line)
								}
							}
						}
					}
				}
				t.Errorf("the slowest answer during the switch took %v, want within DB_QUERY_TIMEOUT (3s) and a margin; over 3.5s: %v", slowest, slow)
			}
			v := d.judge(t, load.chains)

			if mode.rep == Synchronous && len(v.lost()) > 0 {
				t.Errorf("synchronous replication lost %d acknowledged writes:\n%v", len(v.lost()), v.lost())
			}
			for _, l := range v.lost() {
				t.Log("lost: " + l)
			}
			// Every client whose session survived goes on with its last
			// token: if its last rotation's answer was lost, the grace window
			// hands it the current one; if its session was set back, the
			// session catches up with it. Only the clients whose sign-in is
			// gone must sign in again.
			failed := 0
			for _, c := range load.chains {
				a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": c.tokens.Refresh}})
				if a.Status != 200 {
					failed++
				}
			}
			caughtUp := 0
			for _, in := range d.Instances {
				caughtUp += strings.Count(in.Logs(), `"event":"refresh_caught_up"`)
			}
			t.Logf("%s: %d chains (%d signed in before the failure), primary killed to PgBouncer repointed in %v (%v of it the HA manager's pause); "+
				"from the kill on %d requests: errors %v, the last %v after the kill (%v after the switch), slowest answer %v; "+
				"sessions: %d as the client last saw them, %d rotated by a request whose answer was lost; acknowledged writes lost: %d sessions set back (rotations lost), %d gone (sign-ins lost); %d sessions caught up with their clients, %d clients must sign in again",
				mode.name, len(load.chains), before, switched.Sub(failStart).Round(time.Millisecond), failoverPause, total, errs,
				lastErr.Sub(failStart).Round(time.Millisecond), recovery.Round(time.Millisecond), slowest.Round(time.Millisecond),
				v.present, v.rotated, len(v.setBack), len(v.gone), caughtUp, failed)
			if failed != len(v.gone) {
				t.Errorf("%d clients cannot refresh after the failover, want %d (those whose sign-in is gone)", failed, len(v.gone))
			}
			if len(load.chains) < 20 {
				t.Errorf("only %d sign-ins in the whole run: the load did not run", len(load.chains))
			}
		})
	}
}

// TestKill9DuringRefresh: three instances under refresh load; one is
// killed with SIGKILL mid-load. Requests it held get no answer; each
// client's last received token (or, when the rotation it sent to the
// killed instance committed, that token within the grace window) still
// works on another instance; no session keeps two valid tokens.
func TestKill9DuringRefresh(t *testing.T) {
	d := Start(t, Options{Instances: 3, Env: []string{"OTP_MAX_SENDS_PER_IP_PER_HOUR=100000", "REFRESH_REUSE_GRACE=4s"}})
	chains := make([]*chain, 30)
	for i := range chains {
		phone := fmt.Sprintf("+9196%08d", i+1)
		chains[i] = &chain{phone: phone, tokens: d.SignIn(phone, "10.8.0.1")}
	}
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		noAnswer int
		statuses = map[int]int{}
	)
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := chains[w*3+i%3]
				a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": c.tokens.Refresh}})
				mu.Lock()
				statuses[a.Status]++
				if a.Status == 0 {
					noAnswer++
				}
				mu.Unlock()
				if a.Status == 200 {
					c.tokens = Tokens{Access: a.Field("access_token"), Refresh: a.Field("refresh_token")}
					c.acked++
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	d.Instances[1].Kill()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	for s, n := range statuses {
		if s != 200 && s != 0 {
			t.Errorf("%d refreshes answered %d, want only 200 (or no answer from the killed instance)", n, s)
		}
	}
	v := d.judge(t, chains)
	if len(v.lost()) > 0 {
		t.Fatalf("sessions lost or behind what their clients were answered:\n%v", v.lost())
	}
	// Each client's last token works on a live instance: the current token,
	// or the predecessor of a rotation whose answer died with the instance
	// (grace replay: the current token comes back).
	rotations := 0
	for _, c := range chains {
		rotations += c.acked
		a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": c.tokens.Refresh}})
		if a.Status != 200 {
			t.Fatalf("%s: its last received token got %d %s after the kill, want 200", c.phone, a.Status, a.Body)
		}
		c.tokens = Tokens{Access: a.Field("access_token"), Refresh: a.Field("refresh_token")}
	}
	// No session has two valid tokens: once the grace window has passed,
	// the token before the current one is refused as reuse (and ends the
	// session), for every client, whichever instance it goes to.
	prev := make([]string, len(chains))
	for i, c := range chains {
		prev[i] = c.tokens.Refresh
		a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": c.tokens.Refresh}})
		if a.Status != 200 {
			t.Fatalf("%s: refresh: got %d %s", c.phone, a.Status, a.Body)
		}
		c.tokens.Refresh = a.Field("refresh_token")
	}
	time.Sleep(4500 * time.Millisecond)
	reused := 0
	for i := range chains {
		if a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": prev[i]}}); a.ErrorCode() == "refresh_token_reused" {
			reused++
		}
	}
	if reused != len(chains) {
		t.Fatalf("%d of %d previous tokens refused as reuse after the grace window, want all", reused, len(chains))
	}
	t.Logf("kill -9 of one of 3 instances during refresh load: %d rotations answered, %d requests without an answer, statuses %v; "+
		"%d sessions as their clients last saw them, %d rotated by a request whose answer was lost (recovered through the grace window), none lost",
		rotations, noAnswer, statuses, v.present, v.rotated)
}

// TestStandbyNotPromoted: an instance pointed at a standby (a read-only
// database: a misdirected pooler, or an HA manager that has not promoted
// it yet) serves reads, answers writes 503 with Retry-After, never a 500,
// and says in /readyz that it is not ready because the database is
// read-only.
func TestStandbyNotPromoted(t *testing.T) {
	d := Start(t, Options{Instances: 1, Standby: Asynchronous})
	tok := d.SignIn("+919500000001", "10.10.0.1")
	// The standby has replayed the sign-in once its own who-am-I sees it.
	in := d.Launch("DATABASE_URL="+d.StandbyURL(), "MIGRATE_ON_START=false")
	if err := in.WaitListening(20 * time.Second); err != nil {
		t.Fatalf("instance on the standby: %v\n%s", err, in.Logs())
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.DoOn(in, Request{Method: "GET", Path: "/v1/me", Bearer: tok.Access}).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("who-am-I on the standby never answered 200\n%s", in.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range []Request{
		{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": tok.Refresh}},
		{Method: "POST", Path: "/v1/auth/otp/send", Client: "10.10.0.2", Body: map[string]string{"phone": "+919500000002"}},
		{Method: "POST", Path: "/v1/auth/logout", Bearer: tok.Access},
		{Method: "PATCH", Path: "/v1/me", Bearer: tok.Access, Body: map[string]string{"full_name": "On A Standby"}},
	} {
		a := d.DoOn(in, r)
		if a.Status != 503 || a.ErrorCode() != "unavailable" || a.Header.Get("Retry-After") == "" {
			t.Errorf("%s on a standby: got %d %s (Retry-After %q), want 503 unavailable with Retry-After", r.Path, a.Status, a.Body, a.Header.Get("Retry-After"))
		}
	}
	a := d.DoOn(in, Request{Method: "GET", Path: "/readyz"})
	if a.Status != 503 || !strings.Contains(string(a.Body), "read-only") {
		t.Errorf("readyz on a standby: got %d %s, want 503 saying the database is read-only", a.Status, a.Body)
	}
	// The refresh the standby refused did not happen: the token still works
	// on the primary.
	if a := d.Do(Request{Method: "POST", Path: "/v1/auth/refresh", Body: map[string]string{"refresh_token": tok.Refresh}}); a.Status != 200 {
		t.Errorf("the token after the standby refused its refresh: got %d %s, want 200 on the primary", a.Status, a.Body)
	}
}
