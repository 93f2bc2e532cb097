package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
)

// The API tests drive the real router, built by the same buildHandler that
// `agency serve` uses, over real HTTP, on a fresh real database per test,
// with an injected clock and SMS sender. Every response is validated
// against openapi.yaml.

// dialects the API tests run on.
var dialects = []string{migration.Postgres, migration.SQLite}

// clock is the injected time; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// smsBox is the injected SMS sender: it records the last code per number,
// and can be told to fail or hang.
type smsBox struct {
	mu    sync.Mutex
	codes map[string]string
	sent  int
	fail  bool
	hang  bool
}

func (s *smsBox) Send(ctx context.Context, to, code string) error {
	s.mu.Lock()
	fail, hang := s.fail, s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail {
		return io.ErrUnexpectedEOF
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[to] = code
	s.sent++
	return nil
}

func (s *smsBox) code(t testing.TB, to string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[to]
	if !ok {
		t.Fatalf("no SMS was sent to %s", to)
	}
	return c
}

func (s *smsBox) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func (s *smsBox) set(fail, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.hang = fail, hang
}

// api is one test's running service.
type api struct {
	t       testing.TB
	dialect string
	srv     *httptest.Server
	clock   *clock
	sms     *smsBox
	db      *sql.DB
	client  *ent.Client
	cfg     *config.Config
	logs    *syncBuffer
	spec    *apitest.Spec
}

var (
	devKeyOnce sync.Once
	devKey     string
)

// testEnv is the configuration every API test starts from; extra entries win.
func testEnv(extra ...string) []string {
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

// newAPI starts the service on a fresh database of dialect d.
func newAPI(t testing.TB, d string, env ...string) *api {
	t.Helper()
	a := &api{t: t, dialect: d, clock: &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
		sms: &smsBox{codes: map[string]string{}}, logs: &syncBuffer{}, spec: apitest.Load(t, "openapi.yaml")}
	if d == migration.Postgres {
		db := testdb.New(t)
		a.db, a.client = db.DB, db.Client
		env = append([]string{"DATABASE_URL=" + db.URL}, env...)
	} else {
		path := filepath.Join(t.TempDir(), "agency.db")
		db, err := database.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := applyMigrations(context.Background(), db, d); err != nil {
			t.Fatal(err)
		}
		a.db, a.client = db, database.NewClient(db, d)
		env = append([]string{"SQLITE_PATH=" + path}, env...)
	}
	cfg, err := config.Load(testEnv(env...), "")
	if err != nil {
		t.Fatal(err)
	}
	a.cfg = cfg
	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := buildHandler(cfg, a.db, a.client, a.sms, a.clock.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(h)
	t.Cleanup(a.srv.Close)
	return a
}

// forEachDialect runs fn as a subtest on PostgreSQL and on SQLite.
func forEachDialect(t *testing.T, fn func(t *testing.T, d string)) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// resp is a response read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r resp) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrCode is the error code of an error response.
func (r resp) ErrCode() string {
	var e struct {
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// request sends a request with a raw body and headers and validates the
// response against the spec.
func (a *api) request(method, path string, body []byte, header map[string]string) resp {
	a.t.Helper()
	// Errors are reported with Errorf, not Fatal: request runs in the
	// goroutines of concurrency tests too.
	req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		a.t.Errorf("build request: %v", err)
		return resp{}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Errorf("%s %s: %v", method, path, err)
		return resp{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a.spec.CheckResponse(a.t, req, res.StatusCode, res.Header, b)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// call sends v as JSON (nil: no body), with a bearer token when given.
func (a *api) call(method, path, bearer string, v any) resp {
	a.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			a.t.Errorf("encode body: %v", err)
			return resp{}
		}
	}
	h := map[string]string{}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	return a.request(method, path, body, h)
}

// tokens is a decoded token pair.
type tokens struct {
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

// sendCode asks for a code and returns it as the SMS carried it.
func (a *api) sendCode(phone string) string {
	a.t.Helper()
	r := a.call("POST", "/v1/auth/otp/send", "", map[string]string{"phone": phone})
	if r.Status != http.StatusAccepted {
		a.t.Fatalf("send code: got %d %s, want 202", r.Status, r.Body)
	}
	return a.sms.code(a.t, phone)
}

// signIn signs phone in (sending a code, verifying it) and returns the pair.
func (a *api) signIn(phone string) tokens {
	a.t.Helper()
	code := a.sendCode(phone)
	r := a.call("POST", "/v1/auth/otp/verify", "", map[string]string{"phone": phone, "code": code, "device_info": "test device"})
	if r.Status != http.StatusOK {
		a.t.Fatalf("verify: got %d %s, want 200", r.Status, r.Body)
	}
	var p tokens
	r.JSON(a.t, &p)
	a.clock.Advance(a.cfg.OTP.ResendCooldown) // let the next send for this number through
	return p
}

// refresh calls the refresh endpoint.
func (a *api) refresh(token string) resp {
	a.t.Helper()
	return a.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": token})
}

// release runs n copies of fn at once (through a closed channel) and waits.
func release(n int, fn func(i int)) {
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

// noSecretsIn fails if any of secrets appears in the captured logs.
func (a *api) noSecretsIn(secrets ...string) {
	a.t.Helper()
	logs := a.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			a.t.Fatalf("a secret (%.6s…) reached the log", s)
		}
	}
}
