package apitest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/app"
	"github.com/agency-platform/agency/internal/metrics"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/internal/upstream"
	"github.com/agency-platform/agency/services"
)

// The HTTP tests drive the real router, built by the same app.NewHandler
// that `agency serve` uses, over real HTTP, on a fresh real database per
// test, with an injected clock and SMS sender. Every response is validated
// against openapi.yaml.

// Dialects the HTTP tests run on.
var Dialects = []string{migration.Postgres, migration.SQLite}

// ForEachDialect runs fn as a parallel subtest on PostgreSQL and on SQLite.
func ForEachDialect(t *testing.T, fn func(t *testing.T, d string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// Clock is the injected time; tests move it instead of sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the service's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// SMS is the injected SMS sender: it records the last code per number,
// and can be told to refuse, to be down or to hang, answering as the real
// senders do (the upstream contract).
type SMS struct {
	mu    sync.Mutex
	codes map[string]string
	sent  int
	fail  bool
	hang  bool
	down  bool
}

// Send records the code, or refuses, fails or hangs as told.
func (s *SMS) Send(ctx context.Context, to, code string) error {
	s.mu.Lock()
	fail, hang, down := s.fail, s.hang, s.down
	s.mu.Unlock()
	switch {
	case hang:
		<-ctx.Done()
		return fmt.Errorf("sms: %w: %w", upstream.ErrUnavailable, ctx.Err())
	case down:
		return fmt.Errorf("sms: %w: status 503", upstream.ErrUnavailable)
	case fail:
		return fmt.Errorf("sms: %w: status 400", upstream.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[to] = code
	s.sent++
	return nil
}

// Code is the last code sent to a number; the test fails if none was.
func (s *SMS) Code(t testing.TB, to string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[to]
	if !ok {
		t.Fatalf("no SMS was sent to %s", to)
	}
	return c
}

// Count is the number of messages sent.
func (s *SMS) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Set makes the following sends be refused for good (fail, like a 4xx),
// or hang until their deadline (a timeout: no verdict).
func (s *SMS) Set(fail, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.hang = fail, hang
}

// SetDown makes the following sends fail without a verdict at once (like a
// 5xx).
func (s *SMS) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// LogBuffer is a log sink a test reads while the server writes.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends to the buffer.
func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// API is one test's running service.
type API struct {
	T       testing.TB
	Dialect string
	Server  *httptest.Server
	Clock   *Clock
	SMS     *SMS
	DB      *sql.DB
	Client  *ent.Client
	Config  *config.Config
	Logs    *LogBuffer
	Spec    *Spec
	// Metrics are the running instance's collectors (see Scrape).
	Metrics *metrics.Metrics
	// Statements counts what the service sends to the database.
	Statements *Statements
	// Webhooks is the running instance's webhook deliverer: tests call
	// DeliverDue on it (with the test's clock) instead of waiting for Run.
	Webhooks *services.Webhooks
}

var (
	devKeyOnce sync.Once
	devKey     string
)

// Env is the configuration every API test starts from; extra entries win.
func Env(extra ...string) []string {
	devKeyOnce.Do(func() {
		var err error
		if devKey, err = accesstoken.GenerateES256PEM(); err != nil {
			panic(err)
		}
	})
	env := []string{
		"OTP_SECRET=test-otp-secret-0123456789abcdef",
		"REFRESH_TOKEN_SECRET=test-refresh-secret-0123456789ab",
		"JWT_PRIVATE_KEY=" + devKey,
		"LOG_LEVEL=debug",
	}
	return append(env, extra...)
}

// root is the module root, found from this file so that every test
// package reads the same openapi.yaml whatever its folder.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SpecPath is the path of openapi.yaml.
func SpecPath() string { return filepath.Join(root(), "openapi.yaml") }

// New starts the service on a fresh database of dialect d, with the
// injected SMS sender.
func New(t testing.TB, d string, env ...string) *API {
	t.Helper()
	return newAPI(t, d, &SMS{codes: map[string]string{}}, env)
}

// NewConfiguredSMS starts the service like New, but with the SMS sender
// env configures (SMS_PROVIDER...), as `agency serve` would; SMS is nil.
func NewConfiguredSMS(t testing.TB, d string, env ...string) *API {
	t.Helper()
	return newAPI(t, d, nil, env)
}

func newAPI(t testing.TB, d string, sms *SMS, env []string) *API {
	t.Helper()
	a := &API{T: t, Dialect: d, Clock: &Clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
		SMS: sms, Logs: &LogBuffer{}, Spec: Load(t, SpecPath())}
	if d == migration.Postgres {
		db := testdb.New(t)
		a.DB, a.Client = db.DB, db.Client
		env = append([]string{"DATABASE_URL=" + db.URL}, env...)
	} else {
		db := testdb.NewSQLite(t)
		a.DB, a.Client = db.DB, db.Client
		env = append([]string{"SQLITE_PATH=" + db.Path}, env...)
	}
	cfg, err := config.Load(Env(env...), "")
	if err != nil {
		t.Fatal(err)
	}
	a.Config = cfg
	a.start(slog.New(slog.NewTextHandler(a.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return a
}

// start serves a new instance of the service on the test's database.
func (a *API) start(log *slog.Logger) {
	a.T.Helper()
	spec, err := os.ReadFile(SpecPath())
	if err != nil {
		a.T.Fatal(err)
	}
	var sender services.SMSSender
	if a.SMS != nil {
		sender = a.SMS
	}
	a.Metrics = metrics.New(a.DB)
	a.Statements = &Statements{}
	svc, err := app.New(app.Deps{Config: a.Config, DB: a.DB, SMS: sender,
		Now: a.Clock.Now, Log: log, OpenAPI: spec, Metrics: a.Metrics, WrapDriver: a.Statements.Wrap})
	if err != nil {
		a.T.Fatal(err)
	}
	a.Webhooks = svc.Webhooks
	a.Server = httptest.NewServer(svc.Handler)
	a.T.Cleanup(a.Server.Close)
}

// Restart builds a second service instance on the same database and clock
// (as after a process restart, or another instance behind the balancer);
// requests go to the new one from now on.
func (a *API) Restart() {
	a.T.Helper()
	a.start(slog.New(slog.NewTextHandler(a.Logs, nil)))
}

// Scrape returns what GET /metrics on the metrics listener would answer
// (the Prometheus text format).
func (a *API) Scrape() string {
	a.T.Helper()
	rec := httptest.NewRecorder()
	a.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		a.T.Fatalf("scrape metrics: got %d %s, want 200", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// Resp is a response read whole.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Resp) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// noRedirects is the harness's client: a test sees each response as the
// service sent it, redirects included.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Request sends a request with a raw body and headers and validates the
// response against the spec.
func (a *API) Request(method, path string, body []byte, header map[string]string) Resp {
	a.T.Helper()
	// Errors are reported with Errorf, not Fatal: Request runs in the
	// goroutines of concurrency tests too.
	req, err := http.NewRequest(method, a.Server.URL+path, bytes.NewReader(body))
	if err != nil {
		a.T.Errorf("build request: %v", err)
		return Resp{}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		a.T.Errorf("%s %s: %v", method, path, err)
		return Resp{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a.Spec.CheckResponse(a.T, req, res.StatusCode, res.Header, b)
	return Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Call sends v as JSON (nil: no body), with a bearer token when given.
func (a *API) Call(method, path, bearer string, v any) Resp {
	a.T.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			a.T.Errorf("encode body: %v", err)
			return Resp{}
		}
	}
	h := map[string]string{}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	return a.Request(method, path, body, h)
}

// Tokens is a decoded token pair.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID        string  `json:"id"`
		Role      *string `json:"role"`
		NeedsRole bool    `json:"needs_role"`
	} `json:"user"`
}

// SendCode asks for a code and returns it as the SMS carried it.
func (a *API) SendCode(phone string) string {
	a.T.Helper()
	r := a.Call("POST", "/v1/auth/otp/send", "", map[string]string{"phone": phone})
	if r.Status != http.StatusAccepted {
		a.T.Fatalf("send code: got %d %s, want 202", r.Status, r.Body)
	}
	return a.SMS.Code(a.T, phone)
}

// SignIn signs phone in (sending a code, verifying it) and returns the pair.
func (a *API) SignIn(phone string) Tokens {
	a.T.Helper()
	code := a.SendCode(phone)
	r := a.Call("POST", "/v1/auth/otp/verify", "", map[string]string{"phone": phone, "code": code, "device_info": "test device"})
	if r.Status != http.StatusOK {
		a.T.Fatalf("verify: got %d %s, want 200", r.Status, r.Body)
	}
	var p Tokens
	r.JSON(a.T, &p)
	a.Clock.Advance(a.Config.OTP.ResendCooldown) // let the next send for this number through
	return p
}

// Refresh calls the refresh endpoint.
func (a *API) Refresh(token string) Resp {
	a.T.Helper()
	return a.Call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": token})
}

// Release runs n copies of fn at once (through a closed channel) and waits.
func Release(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// NoSecretsIn fails if any of secrets appears in the captured logs.
func (a *API) NoSecretsIn(secrets ...string) {
	a.T.Helper()
	logs := a.Logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			a.T.Fatalf("a secret (%.6s…) reached the log", s)
		}
	}
}

// ErrorBody is what every error response carries under "error".
type ErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field"`
	RequestID string `json:"request_id"`
}

// ErrorBody decodes an error response; a body that is not one gives the
// zero value.
func (r Resp) ErrorBody() ErrorBody {
	var e struct {
		Error ErrorBody `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

// ErrCode is the error code of an error response ("" for anything else).
func (r Resp) ErrCode() string { return r.ErrorBody().Code }

// WantError fails unless r is an error response with status and code and
// a message, and returns its body.
func WantError(t testing.TB, r Resp, status int, code string) ErrorBody {
	t.Helper()
	e := r.ErrorBody()
	if r.Status != status || e.Code != code {
		t.Fatalf("got %d %s %s, want %d %s", r.Status, e.Code, r.Body, status, code)
	}
	if e.Message == "" {
		t.Fatalf("error response without a message: %s", r.Body)
	}
	return e
}
