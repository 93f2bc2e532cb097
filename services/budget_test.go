package services_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/services"
)

// The hot paths have statement budgets: a change that adds a round trip to
// the database fails here, naming the statements.

// statements records what the Ent driver sends: each query, each exec and
// each transaction start and commit (a round trip each).
type statements struct {
	mu    sync.Mutex
	lines []string
}

func (s *statements) log(_ context.Context, v ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, fmt.Sprint(v...))
}

// since returns what was sent since the last call.
func (s *statements) since() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.lines
	s.lines = nil
	return out
}

// codeBox is an SMS sender that keeps the last code.
type codeBox struct{ code string }

func (c *codeBox) Send(_ context.Context, _, code string) error { c.code = code; return nil }

func TestBudget_HotPaths(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	log := &statements{}
	client := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dialect.Postgres, db.DB), log.log)))
	issuer, err := accesstoken.New(accesstoken.Config{Algorithm: "HS256", Secret: "0123456789abcdef0123456789abcdef",
		Issuer: "i", Audience: "a", TTL: time.Minute}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	base := services.NewBase(client, services.Postgres, time.Now, nil)
	sessions := services.NewSessions(base, issuer, services.SessionConfig{RefreshTTL: time.Hour, MaxAge: 2 * time.Hour,
		ReuseGrace: time.Second, MaxPerUser: 5, RefreshKey: []byte("k")})
	box := &codeBox{}
	phone := services.NewPhoneAuth(base, box, sessions, services.OTPConfig{TTL: time.Minute, MaxSendsPerHour: 100,
		MaxSendsPerIPPerHour: 100, MaxAttempts: 5, MaxFailuresPerDay: 20, MaxVerifyFailuresPerIPPerHour: 30, SendTimeout: time.Second, Secret: []byte("s")})
	ctx := context.Background()
	budget := func(what string, most int) {
		t.Helper()
		got := log.since()
		t.Logf("%s: %d\n%s", what, len(got), strings.Join(got, "\n"))
		if len(got) > most {
			t.Errorf("%s: got %d round trips, want at most %d:\n%s", what, len(got), most, strings.Join(got, "\n"))
		}
	}
	for _, name := range []string{"first sign-in", "returning sign-in"} {
		if _, err := phone.Send(ctx, "+919876543210", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		log.since()
		pair, err := phone.Verify(ctx, "+919876543210", box.code, "phone", "192.0.2.1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// A rate-limit check, two statements to spend the code, then one
		// transaction: (find the user and lock it | create user and
		// identity), record the identity's use, insert the session, evict.
		budget("otp verify, "+name, 9)
		if _, err := sessions.Refresh(ctx, pair.RefreshToken); err != nil {
			t.Fatal(err)
		}
		budget("refresh", 2) // the conditional UPDATE, the user
		if _, err := sessions.Authenticate(ctx, pair.AccessToken); err != nil {
			t.Fatal(err)
		}
		budget("authenticate", 1) // user joined with the live session
	}
}
