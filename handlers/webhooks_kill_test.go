package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/webhookevent"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/app"
	"github.com/agency-platform/agency/internal/migration"
)

// helperServeEnv marks the process TestWebhooks_Kill9MidDelivery starts.
const helperServeEnv = "AGENCY_TEST_HELPER_SERVE"

// TestHelperServe is not a test: it is `agency serve` in a process of its
// own, for TestWebhooks_Kill9MidDelivery to kill.
func TestHelperServe(t *testing.T) {
	if os.Getenv(helperServeEnv) != "1" {
		t.Skip("the process TestWebhooks_Kill9MidDelivery starts and kills")
	}
	err := app.Program{}.Run(context.Background(), []string{"serve"}, os.Environ(), os.Stdout, os.Stderr)
	t.Fatalf("serve returned: %v", err)
}

// TestWebhooks_Kill9MidDelivery starts the service in a process of its own,
// lets its deliverer claim an event and post it to a receiver that does
// not answer, kills the process with SIGKILL mid-request, starts another,
// and checks the event is delivered again (same webhook-id) once the dead
// process's lease (2 × WEBHOOK_TIMEOUT) has run out: redelivered, not lost.
func TestWebhooks_Kill9MidDelivery(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		requests []string // webhook-ids, in arrival order
		arrived  = make(chan struct{}, 4)
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		requests = append(requests, r.Header.Get("webhook-id"))
		first := len(requests) == 1
		mu.Unlock()
		arrived <- struct{}{}
		if first {
			<-r.Context().Done() // hang: the process dies mid-request
			return
		}
	}))
	t.Cleanup(recv.Close)
	// An in-process instance queues the event (it runs no deliverer).
	a := newAPI(t, migration.Postgres, "WEBHOOK_URL="+recv.URL, "WEBHOOK_SECRET="+apitest.WebhookSecret)
	a.Clock.Advance(time.Since(a.Clock.Now()) - time.Second) // the test clock to real time: the processes use it
	// Queues user.created.
	a.SignIn(otpTestPhone(1))
	env := append(os.Environ(), apitest.Env(helperServeEnv+"=1", "DATABASE_URL="+a.Config.DB.URL, "HTTP_ADDR=127.0.0.1:0",
		"WEBHOOK_URL="+recv.URL, "WEBHOOK_SECRET="+apitest.WebhookSecret, "WEBHOOK_TIMEOUT=2s", "CLEANUP_INTERVAL=0", "LOG_LEVEL=warn")...)
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$", "-test.count=1")
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no delivery within 30 s", what)
		}
	}
	first := start()
	wait("first process")
	if err := first.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killed := time.Now()
	e := a.Client.WebhookEvent.Query().Where(webhookevent.TypeEQ(webhookevent.TypeUserCreated)).OnlyX(context.Background())
	if e.Status != webhookevent.StatusPending || e.Attempts != 1 || e.LockedUntil == nil {
		t.Fatalf("after kill -9: got status %s, %d attempts, lease %v; want pending, 1, held", e.Status, e.Attempts, e.LockedUntil)
	}
	start()
	wait("second process")
	mu.Lock()
	got := append([]string(nil), requests...)
	mu.Unlock()
	if len(got) != 2 || got[0] != e.EventID.String() || got[1] != got[0] {
		t.Fatalf("deliveries: got %v, want event %s twice", got, e.EventID)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e = a.Client.WebhookEvent.GetX(context.Background(), e.ID)
		if e.Status == webhookevent.StatusDelivered || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e.Status != webhookevent.StatusDelivered || e.Attempts != 2 {
		t.Fatalf("after redelivery: got %s after %d attempts, want delivered after 2", e.Status, e.Attempts)
	}
	t.Logf("redelivered %s after the kill (lease 4 s)", time.Since(killed).Round(100*time.Millisecond))
}
