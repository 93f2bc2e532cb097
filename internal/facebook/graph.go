package facebook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/agency-platform/agency/internal/upstream"
)

// maxResponseBody bounds how much of a Graph answer we read, so a
// misbehaving endpoint cannot make us buffer without limit.
const maxResponseBody = 64 << 10

// get calls Graph at path with query q and decodes a 200 answer into out.
// op names the call in errors. Failures are classified here, once:
// a Graph error about the request is upstream.ErrInvalid, anything that is not a
// verdict (transport, 5xx, throttling, garbage) is upstream.ErrUnavailable.
func (v *Verifier) get(ctx context.Context, op, path string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.graphURL+path+"?"+q.Encode(), nil)
	if err != nil {
		return unavailable(op, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return unavailable(op, err)
	}
	defer drain(resp.Body)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return unavailable(op, err)
	}
	return classify(op, resp.StatusCode, body, out)
}

// classify decodes a Graph answer of status code into out, or says which
// failure it is: a Graph error about the request is upstream.ErrInvalid,
// anything that is not a verdict is upstream.ErrUnavailable.
func classify(op string, code int, body []byte, out any) error {
	switch {
	case code == http.StatusOK:
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("facebook: %w: %s: decode answer: %w", upstream.ErrUnavailable, op, err)
		}
		return nil
	case code >= 400 && code < 500 && code != http.StatusTooManyRequests:
		var e struct {
			Error *graphError `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == nil {
			// Not Graph speaking (a proxy page, a wrong base URL): no verdict.
			return fmt.Errorf("facebook: %w: %s: status %d without graph error", upstream.ErrUnavailable, op, code)
		}
		if e.Error.transient() {
			return fmt.Errorf("facebook: %w: %s: status %d%s", upstream.ErrUnavailable, op, code, e.Error.describe())
		}
		return fmt.Errorf("facebook: %w: %s: status %d%s", upstream.ErrInvalid, op, code, e.Error.describe())
	default:
		return fmt.Errorf("facebook: %w: %s: status %d", upstream.ErrUnavailable, op, code)
	}
}

// unavailable wraps a transport error. A *url.Error is unwrapped first:
// its text repeats the request URL, whose query holds the user token, the
// app secret or the proof. The inner error keeps context.DeadlineExceeded
// and context.Canceled detectable.
func unavailable(op string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("facebook: %w: %s: %w", upstream.ErrUnavailable, op, err)
}

// drain reads what is left of body (bounded) and closes it, so the
// connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxResponseBody))
	_ = body.Close()
}

// graphError is Graph's error object, both the top-level "error" of a
// failed call and debug_token's data.error (which names its subcode
// "subcode" rather than "error_subcode").
type graphError struct {
	Message     string `json:"message"` // never put in our errors: Graph may quote the token
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	DataSubcode int    `json:"subcode"`
	IsTransient bool   `json:"is_transient"`
	TraceID     string `json:"fbtrace_id"`
}

// transientCodes are Graph's "retry later" codes: unknown/service errors
// and the rate limits. They say nothing about the token.
var transientCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 341: true, 613: true}

func (e *graphError) transient() bool {
	return e.IsTransient || transientCodes[e.Code] || (e.Code >= 80001 && e.Code <= 80014)
}

// describe renders the fields that are safe to log (never the message),
// as " (graph ...)", or "" for a nil error.
func (e *graphError) describe() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (graph")
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	fmt.Fprintf(&b, " code %d", e.Code)
	if sub := max(e.Subcode, e.DataSubcode); sub != 0 {
		fmt.Fprintf(&b, " subcode %d", sub)
	}
	if e.TraceID != "" {
		b.WriteString(" fbtrace_id " + e.TraceID)
	}
	b.WriteString(")")
	return b.String()
}

// graphID is a Graph object id. Current versions send ids as strings, old
// ones as numbers; both decode to the same digits.
type graphID string

func (id *graphID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = graphID(s)
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return errors.New("graph id is neither string nor integer")
	}
	*id = graphID(strconv.FormatUint(n, 10))
	return nil
}

// appSecretProof is hex(HMAC-SHA256(key=appSecret, msg=token)), which Graph
// requires on user-token calls when "Require App Secret" is on.
func appSecretProof(appSecret, token string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}
