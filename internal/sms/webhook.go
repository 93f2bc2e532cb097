package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/agency-platform/agency/internal/upstream"
)

// Webhook hands messages to an HTTP endpoint we or a partner run,
// for gateways that are not worth a dedicated client.
type Webhook struct {
	client *http.Client
	url    string
	ttl    time.Duration
}

// webhookPayload is the JSON body POSTed to the webhook.
type webhookPayload struct {
	To      string `json:"to"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewWebhook returns a sender that POSTs {"to", "code", "message"} as JSON
// to url using client. Any non-2xx status is a failure.
func NewWebhook(client *http.Client, url string, ttl time.Duration) *Webhook {
	return &Webhook{client: clientOrDefault(client), url: url, ttl: ttl}
}

// Send posts one message. Errors carry at most the status code: the
// response body might echo the request, code included.
func (s *Webhook) Send(ctx context.Context, to, code string) error {
	body, err := json.Marshal(webhookPayload{To: to, Code: code, Message: Message(code, s.ttl)})
	if err != nil {
		return fmt.Errorf("sms: webhook: %w: encode payload: %w", upstream.ErrInvalid, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return sendFailed("webhook", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return sendFailed("webhook", err)
	}
	defer drain(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("sms: webhook: %w: status %d", statusFailed(resp.StatusCode), resp.StatusCode)
	}
	return nil
}
