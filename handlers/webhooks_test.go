package handlers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent/webhookevent"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/services"
)

// hookAPI is a service with webhooks on, sending to a local receiver.
type hookAPI struct {
	*api
	recv *apitest.Receiver
}

func newHookAPI(t *testing.T, d string, env ...string) hookAPI {
	t.Helper()
	recv := apitest.NewReceiver(t)
	env = append([]string{"WEBHOOK_URL=" + recv.URL, "WEBHOOK_SECRET=" + apitest.WebhookSecret, "WEBHOOK_TIMEOUT=300ms"}, env...)
	return hookAPI{api: newAPI(t, d, env...), recv: recv}
}

// deliverAll runs delivery passes until one finds nothing due; it returns
// the number of attempts.
func (h hookAPI) deliverAll(t testing.TB, w *services.Webhooks) int {
	t.Helper()
	total := 0
	for range 100 {
		n, err := w.DeliverDue(context.Background())
		if err != nil {
			t.Fatalf("deliver: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	t.Fatal("delivery does not settle")
	return 0
}

// hookBody is a webhook's JSON body.
type hookBody struct {
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// verifyStandardWebhook checks a delivery as a receiver following the
// Standard Webhooks specification would, written here from the
// specification and not from the service's code: the secret is the base64
// after "whsec_"; the signed content is "id.timestamp.body"; the header
// holds space-separated "v1,<base64 HMAC-SHA256>" signatures, one of which
// must match (compared in constant time); the timestamp must be within 5
// minutes of now.
func verifyStandardWebhook(t testing.TB, secret string, d apitest.Delivery, now time.Time) hookBody {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	id, ts, sigs := d.Header.Get("webhook-id"), d.Header.Get("webhook-timestamp"), d.Header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		t.Fatalf("missing Standard Webhooks headers: %v", d.Header)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		t.Fatalf("webhook-timestamp %q is not within 5 minutes of %s", ts, now)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(d.Body)))
	want := mac.Sum(nil)
	ok := false
	for _, s := range strings.Fields(sigs) {
		version, b64, found := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if found && version == "v1" && err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		t.Fatalf("webhook-signature %q does not verify", sigs)
	}
	if ct := d.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type: got %q", ct)
	}
	var b hookBody
	if err := json.Unmarshal(d.Body, &b); err != nil {
		t.Fatalf("body %s: %v", d.Body, err)
	}
	return b
}

// TestWebhooks_SignedAndInOrder walks a user through every event type and
// checks the receiver gets each once, signed, in the order of the changes,
// with nothing secret in it.
func TestWebhooks_SignedAndInOrder(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		h := newHookAPI(t, d)
		code := h.SendCode(otpTestPhone(1))
		r := postVerify(h.api, otpTestPhone(1), code)
		var me apitest.Tokens
		r.JSON(t, &me)
		me = setRole(t, h.api, me)
		if r := h.Call("PATCH", "/v1/me", me.AccessToken, map[string]string{"full_name": "Asha"}); r.Status != http.StatusOK {
			t.Fatalf("PATCH /v1/me: got %d", r.Status)
		}
		linkCode := h.SendCode(otpTestPhone(2))
		linked := mustLink(t, h.Call("POST", "/v1/me/identities/phone", me.AccessToken, map[string]string{"phone": otpTestPhone(2), "code": linkCode}))
		if r := h.Call("DELETE", "/v1/me/identities/"+linked.ID, me.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("unlink: got %d", r.Status)
		}
		if r := h.Call("DELETE", "/v1/me", me.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("DELETE /v1/me: got %d", r.Status)
		}
		if n := h.deliverAll(t, h.Webhooks); n != 6 {
			t.Fatalf("attempts: got %d, want 6", n)
		}
		got := h.recv.Got()
		want := []string{"user.created", "user.role_selected", "user.updated", "identity.linked", "identity.unlinked", "user.deleted"}
		if len(got) != len(want) {
			t.Fatalf("deliveries: got %d, want %d", len(got), len(want))
		}
		ids := map[string]bool{}
		for i, dl := range got {
			b := verifyStandardWebhook(t, apitest.WebhookSecret, dl, h.Clock.Now())
			if b.Type != want[i] || b.Data["user_id"] != me.User.ID {
				t.Fatalf("delivery %d: got %s for %v, want %s for %s", i, b.Type, b.Data["user_id"], want[i], me.User.ID)
			}
			ids[dl.Header.Get("webhook-id")] = true
			for _, secret := range []string{code, linkCode, me.AccessToken, me.RefreshToken, "token", "hash", "secret"} {
				if strings.Contains(string(dl.Body), secret) {
					t.Fatalf("%s body holds %q: %s", b.Type, secret, dl.Body)
				}
			}
			switch b.Type {
			case "user.created":
				if b.Data["method"] != "phone" {
					t.Errorf("user.created: got %v", b.Data)
				}
			case "user.role_selected":
				if b.Data["role"] != "creator" {
					t.Errorf("user.role_selected: got %v", b.Data)
				}
			case "user.updated":
				if b.Data["full_name"] != "Asha" || b.Data["role"] != "creator" {
					t.Errorf("user.updated: got %v", b.Data)
				}
			case "identity.linked", "identity.unlinked":
				if b.Data["provider"] != "phone" || b.Data["identity_id"] != linked.ID {
					t.Errorf("%s: got %v", b.Type, b.Data)
				}
			}
		}
		if len(ids) != len(want) {
			t.Fatalf("webhook-ids: got %d distinct, want %d", len(ids), len(want))
		}
		scrape := h.Scrape()
		for _, line := range []string{
			`agency_webhook_events_total{outcome="queued",type="user.created"} 1`,
			`agency_webhook_events_total{outcome="delivered",type="user.deleted"} 1`,
			`agency_webhook_delivery_latency_seconds_count{type="identity.linked"} 1`,
		} {
			if !strings.Contains(scrape, line) {
				t.Errorf("metrics lack %q", line)
			}
		}
	})
}

// hookRow is the outbox row of the user's event of type typ.
func hookRow(t testing.TB, a *api, user string, typ webhookevent.Type) (status webhookevent.Status, attempts int, next time.Time, lastError string) {
	t.Helper()
	e, err := a.Client.WebhookEvent.Query().Where(webhookevent.TypeEQ(typ), webhookevent.UserID(uuid.MustParse(user))).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e.Status, e.Attempts, e.NextAttemptAt, pstr(e.LastError)
}

// TestWebhooks_Retries: a 500, then a timeout, are retried with backoff
// (the first retry within a minute), with the same webhook-id, until a 2xx.
func TestWebhooks_Retries(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		h := newHookAPI(t, d)
		h.recv.Answer(http.StatusInternalServerError)
		u := h.SignIn(otpTestPhone(1)).User.ID
		sent := h.Clock.Now()
		if n := h.deliverAll(t, h.Webhooks); n != 1 {
			t.Fatalf("first pass: got %d attempts, want 1", n)
		}
		status, attempts, next, lastErr := hookRow(t, h.api, u, webhookevent.TypeUserCreated)
		if status != webhookevent.StatusPending || attempts != 1 || lastErr != "status 500" {
			t.Fatalf("after a 500: got %s, %d attempts, %q", status, attempts, lastErr)
		}
		if wait := next.Sub(sent); wait < 30*time.Second || wait > time.Minute {
			t.Fatalf("first retry after %s, want within a minute (32-48 s)", wait)
		}
		h.Clock.Advance(next.Sub(sent) + time.Second)
		h.recv.Hang(1)
		if n := h.deliverAll(t, h.Webhooks); n != 1 {
			t.Fatalf("second pass: got %d attempts, want 1", n)
		}
		status, attempts, next2, lastErr := hookRow(t, h.api, u, webhookevent.TypeUserCreated)
		if status != webhookevent.StatusPending || attempts != 2 || lastErr != "timeout" {
			t.Fatalf("after a timeout: got %s, %d attempts, %q", status, attempts, lastErr)
		}
		if wait := next2.Sub(h.Clock.Now()); wait < 64*time.Second || wait > 96*time.Second {
			t.Fatalf("second retry after %s, want 64-96 s (backing off)", wait)
		}
		h.Clock.Advance(next2.Sub(h.Clock.Now()) + time.Second)
		h.deliverAll(t, h.Webhooks)
		if status, attempts, _, _ := hookRow(t, h.api, u, webhookevent.TypeUserCreated); status != webhookevent.StatusDelivered || attempts != 3 {
			t.Fatalf("after a 200: got %s, %d attempts, want delivered after 3", status, attempts)
		}
		got := h.recv.Got()
		if len(got) != 2 || got[0].Header.Get("webhook-id") != got[1].Header.Get("webhook-id") {
			t.Fatalf("retries: got %d deliveries with ids %v, want 2 with one id", len(got), got)
		}
		if !strings.Contains(h.Scrape(), `agency_webhook_events_total{outcome="retried",type="user.created"} 2`) {
			t.Error("metrics lack the two retries")
		}
	})
}

// TestWebhooks_FailedThenRequeued: an event out of attempts is failed,
// listed to admins, re-queued by one (audited) and then delivered.
func TestWebhooks_FailedThenRequeued(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		h := newHookAPI(t, d, "WEBHOOK_MAX_ATTEMPTS=2")
		admin := newAdmin(t, h.api, otpTestPhone(9))
		h.deliverAll(t, h.Webhooks)
		h.recv.Answer(http.StatusServiceUnavailable, http.StatusServiceUnavailable)
		u := h.SignIn(otpTestPhone(1))
		h.deliverAll(t, h.Webhooks)
		h.Clock.Advance(time.Minute)
		h.deliverAll(t, h.Webhooks)
		r := h.Call("GET", "/v1/admin/webhooks/failed", admin.AccessToken, nil)
		var page struct {
			Events []struct {
				ID        string         `json:"id"`
				Type      string         `json:"type"`
				UserID    string         `json:"user_id"`
				Status    string         `json:"status"`
				Attempts  int            `json:"attempts"`
				LastError string         `json:"last_error"`
				Payload   map[string]any `json:"payload"`
			} `json:"events"`
		}
		r.JSON(t, &page)
		if len(page.Events) != 1 {
			t.Fatalf("failed events: got %s, want 1", r.Body)
		}
		e := page.Events[0]
		if e.Type != "user.created" || e.UserID != u.User.ID || e.Status != "failed" || e.Attempts != 2 || e.LastError != "status 503" || e.Payload["type"] != "user.created" {
			t.Fatalf("failed event: got %+v", e)
		}
		h.Clock.Advance(time.Hour)
		h.deliverAll(t, h.Webhooks)
		if n := deliveriesOf(h.recv, e.ID); n != 2 {
			t.Fatalf("a failed event was tried again: %d deliveries, want 2", n)
		}
		admin = h.SignIn(otpTestPhone(9)) // the first access token expired meanwhile
		if r := h.Call("POST", "/v1/admin/webhooks/"+e.ID+"/retry", admin.AccessToken, nil); r.Status != http.StatusAccepted {
			t.Fatalf("retry: got %d %s, want 202", r.Status, r.Body)
		}
		apitest.WantError(t, h.Call("POST", "/v1/admin/webhooks/"+e.ID+"/retry", admin.AccessToken, nil), http.StatusNotFound, "not_found")
		apitest.WantError(t, h.Call("POST", "/v1/admin/webhooks/nope/retry", admin.AccessToken, nil), http.StatusNotFound, "not_found")
		apitest.WantError(t, h.Call("GET", "/v1/admin/webhooks/failed", h.SignIn(otpTestPhone(1)).AccessToken, nil), http.StatusForbidden, "forbidden")
		h.deliverAll(t, h.Webhooks)
		if n := deliveriesOf(h.recv, e.ID); n != 3 {
			t.Fatalf("after the retry: got %d deliveries of %s, want 3", n, e.ID)
		}
		if status, _, _, _ := hookRow(t, h.api, u.User.ID, webhookevent.TypeUserCreated); status != webhookevent.StatusDelivered {
			t.Fatalf("re-queued event: got %s, want delivered", status)
		}
		r = h.Call("GET", "/v1/admin/webhooks/failed", admin.AccessToken, nil)
		r.JSON(t, &page)
		if len(page.Events) != 0 {
			t.Fatalf("failed list after the retry: %s", r.Body)
		}
		audit := allAudit(t, h.api, admin.AccessToken, url.Values{"type": {"admin_webhook_retried"}}, 50)
		if len(audit) != 1 || pstr(audit[0].ActorUserID) != admin.User.ID || pstr(audit[0].TargetUserID) != u.User.ID || audit[0].Details["event_id"] != e.ID {
			t.Fatalf("admin_webhook_retried rows: got %+v", audit)
		}
	})
}

// TestWebhooks_NoEventWithoutChange: refused changes queue nothing.
func TestWebhooks_NoEventWithoutChange(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		h := newHookAPI(t, d)
		h.SignIn(otpTestPhone(1)) // holds the number the other user will try to link
		me := setRole(t, h.api, h.SignIn(otpTestPhone(2)))
		before := h.Client.WebhookEvent.Query().CountX(context.Background())
		apitest.WantError(t, h.Call("POST", "/v1/me/identities/phone", me.AccessToken,
			map[string]string{"phone": otpTestPhone(1), "code": h.SendCode(otpTestPhone(1))}), http.StatusConflict, "identity_in_use")
		apitest.WantError(t, h.Call("PUT", "/v1/me/role", me.AccessToken, map[string]string{"role": "brand"}), http.StatusConflict, "role_already_set")
		ids := identityIDs(t, h.api, me.AccessToken)
		apitest.WantError(t, h.Call("DELETE", "/v1/me/identities/"+ids[0], me.AccessToken, nil), http.StatusConflict, "last_identity")
		if r := h.Call("PUT", "/v1/me/role", me.AccessToken, map[string]string{"role": "creator"}); r.Status != http.StatusOK {
			t.Fatalf("repeat of the same role: got %d", r.Status)
		}
		if n := h.Client.WebhookEvent.Query().CountX(context.Background()); n != before {
			t.Fatalf("webhook events after refused changes: got %d, want %d", n, before)
		}
	})
}

// identityIDs are the ids of the caller's sign-in methods.
func identityIDs(t testing.TB, a *api, bearer string) []string {
	t.Helper()
	var ids []string
	for _, i := range (&provAPI{api: a}).myIdentities(bearer) {
		ids = append(ids, i.ID)
	}
	return ids
}

// TestWebhooks_TwoInstances runs two instances' deliverers at once over
// the same outbox: every event is delivered exactly once, each user's in
// order, on both dialects.
func TestWebhooks_TwoInstances(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		h := newHookAPI(t, d)
		const users = 6
		for i := range users {
			me := setRole(t, h.api, h.SignIn(otpTestPhone(i)))
			if r := h.Call("PATCH", "/v1/me", me.AccessToken, map[string]string{"full_name": "U" + strconv.Itoa(i)}); r.Status != http.StatusOK {
				t.Fatalf("PATCH /v1/me: got %d", r.Status)
			}
		}
		want := users * 3
		h.recv.Delay(15 * time.Millisecond)
		first := h.Webhooks
		h.Restart()
		second := h.Webhooks
		var (
			wg       sync.WaitGroup
			attempts [2]int
		)
		deadline := time.Now().Add(30 * time.Second)
		for i, w := range []*services.Webhooks{first, second} {
			wg.Go(func() {
				for len(h.recv.Got()) < want && time.Now().Before(deadline) {
					n, err := w.DeliverDue(context.Background())
					if err != nil {
						t.Errorf("instance %d: %v", i, err)
						return
					}
					attempts[i] += n
				}
			})
		}
		wg.Wait()
		got := h.recv.Got()
		t.Logf("%s: instance attempts %v", d, attempts)
		if len(got) != want || attempts[0]+attempts[1] != want {
			t.Fatalf("deliveries: got %d after %v attempts, want %d once each", len(got), attempts, want)
		}
		seen := map[string]bool{}
		order := map[string][]string{}
		for _, dl := range got {
			id := dl.Header.Get("webhook-id")
			if seen[id] {
				t.Fatalf("event %s delivered twice", id)
			}
			seen[id] = true
			b := verifyStandardWebhook(t, apitest.WebhookSecret, dl, h.Clock.Now())
			u := b.Data["user_id"].(string)
			order[u] = append(order[u], b.Type)
		}
		for u, types := range order {
			if strings.Join(types, ",") != "user.created,user.role_selected,user.updated" {
				t.Fatalf("user %s: events arrived as %v", u, types)
			}
		}
	})
}

// deliveriesOf counts the requests the receiver got for one webhook-id.
func deliveriesOf(r *apitest.Receiver, id string) int {
	n := 0
	for _, d := range r.Got() {
		if d.Header.Get("webhook-id") == id {
			n++
		}
	}
	return n
}

// TestWebhooks_ShutdownHandsBack: an attempt cut short by the instance
// shutting down is handed back, due at once, without counting.
func TestWebhooks_ShutdownHandsBack(t *testing.T) {
	t.Parallel()
	h := newHookAPI(t, "postgres", "WEBHOOK_TIMEOUT=10s")
	u := h.SignIn(otpTestPhone(1)).User.ID
	h.recv.Hang(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := h.Webhooks.DeliverDue(ctx); done <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, attempts, _, _ := hookRow(t, h.api, u, webhookevent.TypeUserCreated); attempts == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the request is with the receiver
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	status, attempts, next, lastErr := hookRow(t, h.api, u, webhookevent.TypeUserCreated)
	if status != webhookevent.StatusPending || attempts != 0 || next.After(h.Clock.Now()) || lastErr != "" {
		t.Fatalf("after a shutdown mid-attempt: got %s, %d attempts, next %s, %q; want pending, 0, due now", status, attempts, next, lastErr)
	}
	if h.deliverAll(t, h.Webhooks) != 1 || len(h.recv.Got()) != 1 {
		t.Fatal("the handed-back event was not delivered by the next pass")
	}
}
