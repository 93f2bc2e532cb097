// Package loadgen is the load tool behind `agency bench`: it drives a
// running server over HTTP from its own process with vegeta's attacker,
// through the scenarios of scenarios.go, and reports requests per second,
// latency quantiles, errors by status, and the CPU seconds the server, the
// tool and PostgreSQL spent (suite.go runs them all and writes
// bench/results.md).
//
// It prepares its own users through the API: the server sends its codes
// to the tool's SMS webhook (SMSBox), so no special server mode exists.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Target is the server under load.
type Target struct {
	// URL is the server's base URL (http://127.0.0.1:8080).
	URL string
	// AllowRemote permits a target that is not on this machine's loopback.
	AllowRemote bool
	// ServerPID is the server's process, for its CPU and memory; 0 finds
	// the process listening on the URL's port (local targets only).
	ServerPID int
	// SMS receives the codes the server sends (its SMS_WEBHOOK_URL).
	SMS *SMSBox
	// Progress receives a line every few seconds of a run (nil: none).
	Progress io.Writer
}

// Load is how hard one run pushes.
type Load struct {
	Duration time.Duration
	// Concurrency is the number of requests in flight (closed loop) when
	// Rate is 0, and the most in flight otherwise.
	Concurrency int
	// Rate is requests per second (open loop); for signin-storm it is
	// sign-ins per second (each a send and a verify). 0: as fast as
	// Concurrency allows.
	Rate int
}

// Bench drives one server: it holds the users it signed in.
type Bench struct {
	t       Target
	c       *client
	users   []User
	refresh []string // the current refresh token of each session
}

// New checks the target and returns a Bench for it.
func New(t Target) (*Bench, error) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: --url %q: want http://host:port", t.URL)
	}
	if !t.AllowRemote && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("bench: %s is not on this machine's loopback; pass --allow-remote to load it anyway", u.Host)
	}
	if t.SMS == nil {
		return nil, errors.New("bench: no SMS box")
	}
	if t.ServerPID == 0 && loopback(u.Hostname()) {
		port, _ := strconv.Atoi(u.Port())
		if port == 0 {
			port = map[string]int{"http": 80, "https": 443}[u.Scheme]
		}
		t.ServerPID = listenerPID(port)
	}
	return &Bench{t: t, c: &client{base: t.URL, http: &http.Client{Timeout: 30 * time.Second}, sms: t.SMS, nums: newNumbers()}}, nil
}

// loopback reports whether host names this machine's loopback.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Prepare signs n new users in (with a role), workers at a time.
func (b *Bench) Prepare(ctx context.Context, n, workers int) error {
	users, err := b.c.prepare(ctx, n, workers)
	b.users = append(b.users, users...)
	for _, u := range users {
		b.refresh = append(b.refresh, u.RefreshToken)
	}
	return err
}

// Run runs one scenario and reports it.
func (b *Bench) Run(ctx context.Context, name string, l Load) (*Report, error) {
	if err := checkScenario(name); err != nil {
		return nil, err
	}
	needUsers := name == ScenarioMe || name == ScenarioRefresh || name == ScenarioMixed
	if needUsers && len(b.users) < max(l.Concurrency, 1) {
		return nil, fmt.Errorf("bench: %s needs at least as many users (%d) as concurrency (%d)", name, len(b.users), l.Concurrency)
	}
	s, collect := b.scenario(name)
	pacer := vegeta.Rate{}
	if l.Rate > 0 {
		pacer = vegeta.Rate{Freq: l.Rate, Per: time.Second}
		if name == ScenarioSignInStorm {
			pacer.Freq = 2 * l.Rate // a send and a verify per sign-in
		}
	}
	c := max(l.Concurrency, 1)
	transport := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c, IdleConnTimeout: 90 * time.Second}
	defer transport.CloseIdleConnections()
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(c)), vegeta.MaxWorkers(uint64(c)),
		vegeta.Client(&http.Client{Transport: hook{base: transport, s: s}, Timeout: 30 * time.Second}))
	before := b.sample()
	r := newReport(name, l)
	results := atk.Attack(targeter(ctx, s), pacer, l.Duration, name)
	tick, sample := time.NewTicker(5*time.Second), time.NewTicker(250*time.Millisecond)
	defer tick.Stop()
	defer sample.Stop()
	for done := false; !done; {
		select {
		case res, ok := <-results:
			if !ok {
				done = true
				break
			}
			r.add(res)
		case <-sample.C:
			if now, _ := rss(b.t.ServerPID); now > r.ServerMaxRSS {
				r.ServerMaxRSS = now
			}
		case <-tick.C:
			r.progress(b.t.Progress)
		case <-ctx.Done():
			atk.Stop()
		}
	}
	r.finish(before, b.sample(), b.t.ServerPID)
	collect(r)
	return r, ctx.Err()
}

// targeter feeds the attacker from the scenario until ctx ends.
func targeter(ctx context.Context, s scenario) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.target(t)
	}
}

// scenario builds a scenario on the bench's users, and the function that
// adds its own counts to the report and keeps its state for the next run.
func (b *Bench) scenario(name string) (scenario, func(*Report)) {
	base := b.t.URL
	switch name {
	case ScenarioMe:
		return &me{url: base, users: b.users}, func(*Report) {}
	case ScenarioRefresh:
		s := newRefresh(base, b.refresh)
		return s, func(r *Report) { b.refresh = s.tokens(); r.SessionsLost = s.lost.Load() }
	case ScenarioMixed:
		m := &mixed{me: &me{url: base, users: b.users}, refresh: newRefresh(base, b.refresh), signIn: newSignIn(base, b.t.SMS, b.c.nums)}
		return m, func(r *Report) {
			b.refresh = m.refresh.tokens()
			r.SessionsLost = m.refresh.lost.Load()
			r.SignIns = m.signIn.signins.Load()
		}
	}
	s := newSignIn(base, b.t.SMS, b.c.nums)
	return s, func(r *Report) { r.SignIns = s.signins.Load() }
}

// cpu is a reading of the CPU seconds spent so far.
type cpu struct {
	at                     time.Time
	server, self, postgres float64
}

func (b *Bench) sample() cpu {
	return cpu{at: time.Now(), server: processCPU(b.t.ServerPID), self: processCPU(os.Getpid()), postgres: postgresCPU()}
}
