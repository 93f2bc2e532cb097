package services_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/services"
)

// sinkSMS accepts every message.
type sinkSMS struct{}

func (sinkSMS) Send(context.Context, string, string) error { return nil }

// TestLimits_FirstEventsOfAWindowConcurrent sends codes to 16 numbers at
// once from one client whose window has no row yet: while the budget has
// room, every send is counted and none refused, whichever request creates
// the window's row; and a budget of 5 lets exactly 5 through. (The limiter
// once refused a request that found the row created by another between its
// UPDATE and its check.)
func TestLimits_FirstEventsOfAWindowConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range []string{migration.Postgres, migration.SQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			var drv dialect.Driver
			if d == migration.Postgres {
				drv = database.NewDriver(testdb.New(t).DB, d)
			} else {
				drv = database.NewDriver(testdb.NewSQLite(t).DB, d)
			}
			for _, tc := range []struct{ limit, want int }{{100, 16}, {5, 5}} {
				phone := services.NewPhoneAuth(services.NewBase(drv, time.Now, nil), sinkSMS{}, nil,
					services.OTPConfig{TTL: time.Minute, ResendCooldown: time.Minute, MaxSendsPerHour: 5, MaxSendsPerIPPerHour: tc.limit,
						MaxAttempts: 5, MaxFailuresPerDay: 20, MaxVerifyFailuresPerIPPerHour: 30, SendTimeout: time.Second, Secret: []byte("s")})
				for round := range 10 {
					ip := fmt.Sprintf("192.0.2.%d", tc.limit+round)
					sent, errs := sendAtOnce(phone, ip, 16, round*100+tc.limit)
					if sent != tc.want {
						t.Fatalf("limit %d, round %d: got %d sends through, want %d (errors: %v)", tc.limit, round, sent, tc.want, errs)
					}
				}
			}
		})
	}
}

// sendAtOnce releases n sends to distinct numbers from ip at the same
// moment and returns how many went through, and the other answers.
func sendAtOnce(phone *services.PhoneAuth, ip string, n, first int) (int, []error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		sent  int
		errs  []error
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := phone.Send(context.Background(), fmt.Sprintf("+9198765%05d", first*n+i), ip)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				sent++
			} else if !errors.Is(err, services.ErrRateLimited) {
				errs = append(errs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return sent, errs
}
