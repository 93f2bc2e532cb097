// Package sms delivers one-time codes by SMS: a webhook, Twilio, and the
// development sender that logs codes. Each has Send(ctx, to, code) error,
// the port services.SMSSender declares; failures follow the upstream
// contract (ErrInvalid: refused for good; ErrUnavailable: no verdict, the
// message may still arrive).
package sms

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/agency-platform/agency/internal/upstream"
)

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

// Senders honour ctx (its deadline) and never put the code into an error
// message or log line, except the log sender, which exists to print it in
// development.

// sendFailed wraps a transport error: no verdict, the request may or may
// not have reached the provider. A *url.Error is unwrapped first: its text
// repeats the request URL, and a webhook URL may carry a secret. Context
// errors stay detectable with errors.Is.
func sendFailed(provider string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("sms: %s: %w: %w", provider, upstream.ErrUnavailable, err)
}

// statusFailed classifies a non-2xx answer: a 4xx is a refusal (this
// message will never be sent), except 408 and 429, which, like a 5xx, give
// no verdict.
func statusFailed(status int) error {
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		return upstream.ErrInvalid
	}
	return upstream.ErrUnavailable
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
