package apitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// WebhookSecret is the WEBHOOK_SECRET the webhook tests sign with
// (whsec_ and the base64 of 32 bytes).
const WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwc1IH5tBhgeQ="

// Delivery is one request the receiver got.
type Delivery struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// Receiver is a local webhook endpoint: it records every request and
// answers with the status it is told (200 by default), or hangs past the
// sender's timeout.
type Receiver struct {
	URL    string
	mu     sync.Mutex
	got    []Delivery
	status []int // answers to the next requests, in order; then 200
	hang   int   // the next hang requests wait for the client to give up
	delay  time.Duration
}

// NewReceiver starts a receiver closed with the test.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/hooks"
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	hang, delay := r.hang > 0, r.delay
	if hang {
		r.hang--
	}
	status := http.StatusOK
	if !hang && len(r.status) > 0 {
		status, r.status = r.status[0], r.status[1:]
	}
	if !hang {
		r.got = append(r.got, Delivery{Header: req.Header.Clone(), Body: body, At: time.Now()})
	}
	r.mu.Unlock()
	if hang {
		<-req.Context().Done()
		return
	}
	time.Sleep(delay)
	w.WriteHeader(status)
}

// Answer queues the statuses of the next requests.
func (r *Receiver) Answer(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = append(r.status, statuses...)
}

// Hang makes the next n requests hang until the sender gives up.
func (r *Receiver) Hang(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang += n
}

// Delay makes every answer wait d (deliveries overlap in time).
func (r *Receiver) Delay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

// Got is every request received so far (hung ones excluded), in arrival order.
func (r *Receiver) Got() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}
