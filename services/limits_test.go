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
			drv := limitsDriver(t, d)
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

// limitsDriver is an Ent driver on a fresh database of dialect d.
func limitsDriver(t *testing.T, d string) dialect.Driver {
	if d == migration.Postgres {
		return database.NewDriver(testdb.New(t).DB, d)
	}
	return database.NewDriver(testdb.NewSQLite(t).DB, d)
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

// TestLimits_FailureBudgetsConcurrent: wrong codes sent all at once get
// no more comparisons than the failure budgets allow: 6 + 6 guesses from one
// client over three numbers with a budget of 6 per client, and 10 guesses
// from ten clients at one number with a budget of 3 per number. (Checked
// before and counted after, every guess that checked before the first one
// counted was compared: 5 of 10 at one number, the code's attempts.)
func TestLimits_FailureBudgetsConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range []string{migration.Postgres, migration.SQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			drv := limitsDriver(t, d)
			nums := []string{"+919876500001", "+919876500002", "+919876500003", "+919876500004"}
			codes := map[string]string{}
			for _, n := range nums {
				codes[n] = "123456"
			}
			phone := services.NewPhoneAuth(services.NewBase(drv, time.Now, nil), sinkSMS{}, nil,
				services.OTPConfig{TTL: time.Minute, ResendCooldown: time.Minute, MaxSendsPerHour: 5, MaxSendsPerIPPerHour: 100,
					MaxAttempts: 5, MaxFailuresPerDay: 3, MaxVerifyFailuresPerIPPerHour: 6, SendTimeout: time.Second,
					Secret: []byte("s"), TestCodes: codes})
			for i, n := range nums {
				if _, err := phone.Send(context.Background(), n, fmt.Sprintf("192.0.2.%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			// Per client: 6 guesses, then 6 more, 2 at each of three
			// numbers each time (within the numbers' budgets of 3).
			judged, limited, other := guessAtOnce(phone, 6, func(i int) (string, string) { return nums[i%3], "198.51.100.1" })
			if judged != 6 || limited != 0 || len(other) != 0 {
				t.Fatalf("6 guesses from one client, budget 6: got %d judged, %d refused, %v; want 6 judged", judged, limited, other)
			}
			judged, limited, other = guessAtOnce(phone, 6, func(i int) (string, string) { return nums[i%3], "198.51.100.1" })
			if judged != 0 || limited != 6 || len(other) != 0 {
				t.Fatalf("6 more guesses from that client: got %d judged, %d refused, %v; want all refused", judged, limited, other)
			}
			// Per number: 10 guesses from ten clients at the fourth number.
			judged, limited, other = guessAtOnce(phone, 10, func(i int) (string, string) { return nums[3], fmt.Sprintf("203.0.113.%d", i) })
			if judged != 3 || limited != 7 || len(other) != 0 {
				t.Fatalf("10 guesses at one number, budget 3: got %d judged, %d refused, %v; want 3 judged, 7 refused", judged, limited, other)
			}
		})
	}
}

// guessAtOnce sends n wrong codes at once; at(i) is the number and client
// of guess i. It returns how many were judged (a wrong code), refused by a
// budget, and any other answers.
func guessAtOnce(phone *services.PhoneAuth, n int, at func(int) (string, string)) (judged, limited int, other []error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			num, ip := at(i)
			<-start
			_, err := phone.Verify(context.Background(), num, "000000", "", ip)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, services.ErrInvalidOTP):
				judged++
			case errors.Is(err, services.ErrRateLimited):
				limited++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return judged, limited, other
}
