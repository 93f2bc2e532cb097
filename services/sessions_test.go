package services_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/services"
)

func newSessions(t *testing.T, db *sql.DB, dialect string) *services.Sessions {
	t.Helper()
	issuer, err := accesstoken.New(accesstoken.Config{Algorithm: "HS256", Secret: "0123456789abcdef0123456789abcdef",
		Issuer: "i", Audience: "a", TTL: 15 * time.Minute}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return services.NewSessions(services.NewBase(database.NewDriver(db, dialect), time.Now, nil), issuer, services.SessionConfig{
		RefreshTTL: time.Hour, MaxAge: 2 * time.Hour, ReuseGrace: 10 * time.Second, MaxPerUser: 5,
		RefreshKey: []byte("refresh-key"),
	})
}

// TestSessions_DeviceLimitConcurrent signs one user in 20 times at once:
// the user row lock keeps the count at MAX_SESSIONS_PER_USER.
func TestSessions_DeviceLimitConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range []string{migration.Postgres, migration.SQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			var (
				client *ent.Client
				db     *sql.DB
			)
			if d == migration.Postgres {
				tdb := testdb.New(t)
				client, db = tdb.Client, tdb.DB
			} else {
				tdb := testdb.NewSQLite(t)
				client, db = tdb.Client, tdb.DB
			}
			s := newSessions(t, db, d)
			ctx := context.Background()
			for round := range 5 {
				u := client.User.Create().SaveX(ctx)
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make(chan error, 20)
				for range 20 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if _, err := s.StartSession(ctx, u, "phone"); err != nil {
							errs <- err
						}
					}()
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatalf("round %d: sign-in failed: %v", round, err)
				}
				if n := client.Session.Query().Where(session.UserID(u.ID)).CountX(ctx); n != 5 {
					t.Fatalf("round %d: got %d sessions, want 5", round, n)
				}
			}
		})
	}
}
