//go:build slow

package deploytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookSink is a webhook receiver recording every delivery's id, type and
// user, in arrival order.
type hookSink struct {
	URL string
	mu  sync.Mutex
	got []hookSeen
}

type hookSeen struct{ id, typ, user string }

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &b)
		user, _ := b.Data["user_id"].(string)
		s.mu.Lock()
		s.got = append(s.got, hookSeen{id: r.Header.Get("webhook-id"), typ: b.Type, user: user})
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/hooks"
	return s
}

func (s *hookSink) seen() []hookSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hookSeen(nil), s.got...)
}

// webhookSecret signs the deployments' webhooks.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwc1IH5tBhgeQ="

// webhooksOnce: 30 new users sign in and pick a role through the three
// instances (round-robin) while every instance's deliverer runs; once the
// outbox is drained, every event written in the whole run (these and the
// other subtests') reached the receiver exactly once, and each of these
// users' two events in order.
func webhooksOnce(t *testing.T, d *Deployment, sink *hookSink) {
	users := map[string]bool{}
	for i := range 30 {
		tok := d.SignIn("+9193000"+strconv.Itoa(10000+i), "10.30.0."+strconv.Itoa(1+i%200))
		a := d.Do(Request{Method: "PUT", Path: "/v1/me/role", Bearer: tok.Access, Body: map[string]string{"role": "creator"}})
		if a.Status != 200 {
			t.Fatalf("set role: got %d %s", a.Status, a.Body)
		}
		var pair struct {
			User struct{ ID string } `json:"user"`
		}
		if err := json.Unmarshal(a.Body, &pair); err != nil || pair.User.ID == "" {
			t.Fatalf("set role: no user id in %s", a.Body)
		}
		users[pair.User.ID] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for d.QueryInt(d.DirectURL, `SELECT count(*) FROM webhook_events WHERE status <> 'delivered'`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the outbox did not drain within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	written := d.QueryInt(d.DirectURL, `SELECT count(*) FROM webhook_events`)
	got := sink.seen()
	ids := map[string]bool{}
	order := map[string][]string{}
	for _, h := range got {
		if ids[h.id] {
			t.Fatalf("event %s (%s) delivered twice", h.id, h.typ)
		}
		ids[h.id] = true
		if users[h.user] {
			order[h.user] = append(order[h.user], h.typ)
		}
	}
	if len(got) != written {
		t.Fatalf("deliveries: got %d, want the %d events written, once each", len(got), written)
	}
	for u := range users {
		if strings.Join(order[u], ",") != "user.created,user.role_selected" {
			t.Fatalf("user %s: events arrived as %v", u, order[u])
		}
	}
	t.Logf("%d events written by 3 instances, %d deliveries, no duplicate; 30 users' events in order", written, len(got))
}
