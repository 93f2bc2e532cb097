package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// SMSBox is the SMS provider of a benchmarked server: a local endpoint of
// the webhook sender's protocol (POST {"to","code","message"}, answered
// 204) that keeps the last code of each number, so the load tool can
// verify the codes the server really generated. The server runs with
// SMS_PROVIDER=webhook and SMS_WEBHOOK_URL set to URL().
type SMSBox struct {
	mu    sync.Mutex
	codes map[string]string
	srv   *http.Server
	ln    net.Listener
}

// ListenSMS starts an SMSBox on addr (host:port; port 0 picks one).
func ListenSMS(addr string) (*SMSBox, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sms box: %w", err)
	}
	b := &SMSBox{codes: map[string]string{}, ln: ln}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.receive), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

// URL is the webhook URL to give the server (SMS_WEBHOOK_URL).
func (b *SMSBox) URL() string { return "http://" + b.ln.Addr().String() + "/sms" }

// Close stops the endpoint.
func (b *SMSBox) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return b.srv.Shutdown(ctx)
}

func (b *SMSBox) receive(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		To   string `json:"to"`
		Code string `json:"code"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&msg) != nil || msg.To == "" || msg.Code == "" {
		http.Error(w, "want POST {\"to\",\"code\"}", http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.codes[msg.To] = msg.Code
	b.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// errNoCode means the server answered a send without delivering a code
// here: it is not configured with this box as its SMS webhook.
var errNoCode = errors.New("no code reached the load tool's SMS webhook: start the server with SMS_PROVIDER=webhook and SMS_WEBHOOK_URL pointing at the load tool (--sms-listen)")

// Take returns and forgets the last code sent to number. The server calls
// the webhook before it answers the send, so the code is here by then.
func (b *SMSBox) Take(number string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.codes[number]
	if !ok {
		return "", errNoCode
	}
	delete(b.codes, number)
	return c, nil
}
