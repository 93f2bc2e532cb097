package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// twilioBaseURL is Twilio's production API; tests point the sender at an
// httptest server instead.
const twilioBaseURL = "https://api.twilio.com"

// Twilio sends through Twilio's Messages API.
type Twilio struct {
	client     *http.Client
	endpoint   string
	accountSID string
	authToken  string
	from       string
	ttl        time.Duration
}

// twilioError is the part of Twilio's error body we report. Its "message"
// field is deliberately left out: it can echo the request, such as the
// destination number.
type twilioError struct {
	Code int `json:"code"`
}

// NewTwilio returns a sender that calls Twilio's Messages API at baseURL
// ("" means https://api.twilio.com) as accountSID with HTTP basic auth,
// sending from the number or sender id from.
func NewTwilio(client *http.Client, baseURL, accountSID, authToken, from string, ttl time.Duration) *Twilio {
	if baseURL == "" {
		baseURL = twilioBaseURL
	}
	endpoint := strings.TrimRight(baseURL, "/") +
		"/2010-04-01/Accounts/" + url.PathEscape(accountSID) + "/Messages.json"
	return &Twilio{
		client:     clientOrDefault(client),
		endpoint:   endpoint,
		accountSID: accountSID,
		authToken:  authToken,
		from:       from,
		ttl:        ttl,
	}
}

// Send creates one Twilio message. A non-2xx answer is reported with its
// status and, when present, Twilio's numeric error code.
func (s *Twilio) Send(ctx context.Context, to, code string) error {
	form := url.Values{
		"To":   {to},
		"From": {s.from},
		"Body": {Message(code, s.ttl)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return sendFailed("twilio", err)
	}
	req.SetBasicAuth(s.accountSID, s.authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return sendFailed("twilio", err)
	}
	defer drain(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	var terr twilioError
	if json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(&terr) == nil && terr.Code != 0 {
		return fmt.Errorf("sms: twilio: %w: status %d, error code %d", statusFailed(resp.StatusCode), resp.StatusCode, terr.Code)
	}
	return fmt.Errorf("sms: twilio: %w: status %d", statusFailed(resp.StatusCode), resp.StatusCode)
}
