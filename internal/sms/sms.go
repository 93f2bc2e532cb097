// Package sms delivers one-time codes by SMS through a pluggable sender.
package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ErrSendFailed is wrapped by every Send failure of the webhook and Twilio
// senders, including context deadlines (which stay detectable with
// errors.Is(err, context.DeadlineExceeded)).
var ErrSendFailed = errors.New("sms: send failed")

// Sender delivers one message. Implementations must honour ctx (deadline)
// and must never put the code into an error message or log line, except
// the log sender, which exists to print it in development.
type Sender interface {
	Send(ctx context.Context, to, code string) error
}

// maxResponseBody bounds how much of a provider's response we read, so a
// misbehaving endpoint cannot make us buffer without limit.
const maxResponseBody = 64 << 10

// Message is the text sent to the user. The lifetime is shown in whole
// minutes, rounded down so we never promise more time than the code has,
// but never below one.
func Message(code string, ttl time.Duration) string {
	minutes := max(int(ttl/time.Minute), 1)
	return fmt.Sprintf("Your Agency Platform code is %s. It expires in %d minutes. Do not share it.", code, minutes)
}

// sendFailed wraps a transport error. A *url.Error is unwrapped first:
// its text repeats the request URL, and a webhook URL may carry a secret.
func sendFailed(provider string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("%w: %s: %w", ErrSendFailed, provider, err)
}

// drain reads what is left of body (bounded) and closes it, so the
// connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxResponseBody))
	_ = body.Close()
}

// clientOrDefault lets callers pass nil in development; production wiring
// passes a client with its own transport settings.
func clientOrDefault(client *http.Client) *http.Client {
	if client == nil {
		return http.DefaultClient
	}
	return client
}
