package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The scenarios. Each makes the requests of one workload (target) and
// reads their answers (done), which the transport hands it with the
// request's tag: the X-Request-ID the request carried, which names the
// scenario part and the state the answer belongs to.
const (
	ScenarioMe          = "me"           // GET /v1/me with the access tokens of many users
	ScenarioRefresh     = "refresh"      // rotations, each refresh token used once
	ScenarioVerify      = "verify"       // OTP send + verify of new numbers, closed loop
	ScenarioSignInStorm = "signin-storm" // the same at a fixed rate of sign-ins
	ScenarioMixed       = "mixed"        // 80% me, 15% refresh, 5% sign-in requests
)

// Scenarios lists every scenario in the order make bench runs them.
var Scenarios = []string{ScenarioMe, ScenarioRefresh, ScenarioVerify, ScenarioSignInStorm, ScenarioMixed}

// scenario makes the requests of one workload and reads their answers.
type scenario interface {
	// target fills the next request, with its tag in X-Request-ID.
	target(t *vegeta.Target) error
	// done is told each answer: the tag, the status (0: no answer) and body.
	done(tag string, status int, body []byte)
}

const tagHeader = "X-Request-ID"

func jsonTarget(t *vegeta.Target, method, url, tag, bearer string, body any) error {
	t.Method, t.URL, t.Body = method, url, nil
	t.Header = http.Header{}
	t.Header.Set(tagHeader, tag)
	if bearer != "" {
		t.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		t.Body = b
		t.Header.Set("Content-Type", "application/json")
	}
	return nil
}

// me reads the profile with each user's access token in turn.
type me struct {
	url   string
	users []User
	next  atomic.Uint64
}

func (s *me) target(t *vegeta.Target) error {
	u := s.users[s.next.Add(1)%uint64(len(s.users))]
	return jsonTarget(t, http.MethodGet, s.url+"/v1/me", "me", u.AccessToken, nil)
}

func (s *me) done(string, int, []byte) {}

// refresh rotates refresh tokens: each request takes a token from the
// pool and the answer's new token goes back, so every token is used
// exactly once. A request without a verdict (no answer, or a 5xx) puts its
// token back: a retry within REFRESH_REUSE_GRACE is answered with the
// current token. A 401 loses the session.
type refresh struct {
	url      string
	pool     chan string
	mu       sync.Mutex
	inflight map[uint64]string
	seq      atomic.Uint64
	lost     atomic.Int64
}

func newRefresh(url string, tokens []string) *refresh {
	s := &refresh{url: url, pool: make(chan string, len(tokens)), inflight: map[uint64]string{}}
	for _, t := range tokens {
		s.pool <- t
	}
	return s
}

// errPoolEmpty stops a run whose sessions were all lost.
var errPoolEmpty = errors.New("refresh: no refresh token came back for 10s (every session was refused?)")

func (s *refresh) target(t *vegeta.Target) error {
	var tok string
	select {
	case tok = <-s.pool:
	case <-time.After(10 * time.Second):
		return errPoolEmpty
	}
	id := s.seq.Add(1)
	s.mu.Lock()
	s.inflight[id] = tok
	s.mu.Unlock()
	return jsonTarget(t, http.MethodPost, s.url+"/v1/auth/refresh", "refresh."+strconv.FormatUint(id, 10), "",
		map[string]string{"refresh_token": tok})
}

func (s *refresh) done(tag string, status int, body []byte) {
	id, _ := strconv.ParseUint(strings.TrimPrefix(tag, "refresh."), 10, 64)
	s.mu.Lock()
	tok, ok := s.inflight[id]
	delete(s.inflight, id)
	s.mu.Unlock()
	if !ok {
		return
	}
	var p pair
	switch {
	case status == http.StatusOK && json.Unmarshal(body, &p) == nil && p.RefreshToken != "":
		s.pool <- p.RefreshToken
	case status == 0 || status >= 500:
		s.pool <- tok
	default:
		s.lost.Add(1)
	}
}

// tokens returns the pool's tokens once the run is over.
func (s *refresh) tokens() []string {
	out := make([]string, 0, len(s.pool))
	for {
		select {
		case t := <-s.pool:
			out = append(out, t)
		default:
			return out
		}
	}
}

// signIn signs new numbers in: a send, then, once its code has reached the
// SMS box, a verify. A request goes to a verify when a code is ready, else
// to the send of a new number, so sends and verifies alternate.
type signIn struct {
	url     string
	sms     *SMSBox
	nums    *numbers
	ready   chan [2]string // number, code
	signins atomic.Int64
}

func newSignIn(url string, sms *SMSBox, nums *numbers) *signIn {
	return &signIn{url: url, sms: sms, nums: nums, ready: make(chan [2]string, 1<<14)}
}

func (s *signIn) target(t *vegeta.Target) error {
	select {
	case r := <-s.ready:
		return jsonTarget(t, http.MethodPost, s.url+"/v1/auth/otp/verify", "verify", "",
			map[string]string{"phone": r[0], "code": r[1], "device_info": "agency bench"})
	default:
	}
	n := s.nums.take()
	return jsonTarget(t, http.MethodPost, s.url+"/v1/auth/otp/send", "send."+n[1:], "", map[string]string{"phone": n})
}

func (s *signIn) done(tag string, status int, _ []byte) {
	switch {
	case tag == "verify" && status == http.StatusOK:
		s.signins.Add(1)
	case strings.HasPrefix(tag, "send.") && status == http.StatusAccepted:
		n := "+" + strings.TrimPrefix(tag, "send.")
		if code, err := s.sms.Take(n); err == nil {
			select {
			case s.ready <- [2]string{n, code}:
			default: // more codes waiting than any run verifies: drop this one
			}
		}
	}
}

// mixed sends 80% who-am-I, 15% refresh and 5% sign-in requests.
type mixed struct {
	me      *me
	refresh *refresh
	signIn  *signIn
}

func (s *mixed) target(t *vegeta.Target) error {
	switch r := rand.IntN(100); {
	case r < 80:
		return s.me.target(t)
	case r < 95:
		return s.refresh.target(t)
	default:
		return s.signIn.target(t)
	}
}

func (s *mixed) done(tag string, status int, body []byte) {
	switch {
	case strings.HasPrefix(tag, "refresh."):
		s.refresh.done(tag, status, body)
	case tag == "verify" || strings.HasPrefix(tag, "send."):
		s.signIn.done(tag, status, body)
	}
}

// hook is the load's HTTP transport: it reads each answer in full and
// tells the scenario, before the attacker sees it.
type hook struct {
	base http.RoundTripper
	s    scenario
}

func (h hook) RoundTrip(req *http.Request) (*http.Response, error) {
	tag := req.Header.Get(tagHeader)
	res, err := h.base.RoundTrip(req)
	if err != nil {
		h.s.done(tag, 0, nil)
		return nil, err
	}
	body, err := readAll(res)
	if err != nil {
		h.s.done(tag, 0, nil)
		return nil, err
	}
	h.s.done(tag, res.StatusCode, body)
	return res, nil
}

// checkScenario refuses an unknown scenario name.
func checkScenario(name string) error {
	for _, s := range Scenarios {
		if s == name {
			return nil
		}
	}
	return fmt.Errorf("unknown scenario %q (want one of %s)", name, strings.Join(Scenarios, ", "))
}
