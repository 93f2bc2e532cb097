package sms

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/upstream"
)

const (
	testTo   = "+919876543210"
	testCode = "123456"
	testTTL  = 5 * time.Minute
)

// captured is what a test server saw of one request.
type captured struct {
	method, path, contentType string
	user, pass                string
	basicOK                   bool
	body                      []byte
}

// newServer starts a server that records each request on the returned
// channel and answers with status and body.
func newServer(t *testing.T, status int, body string) (*httptest.Server, <-chan captured) {
	t.Helper()
	reqs := make(chan captured, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		reqs <- captured{
			method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			user: user, pass: pass, basicOK: ok, body: b,
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

// receive returns the request the server recorded, failing if there was none.
func receive(t *testing.T, reqs <-chan captured) captured {
	t.Helper()
	select {
	case c := <-reqs:
		return c
	default:
		t.Fatal("got no request at the server, want one")
		return captured{}
	}
}

// checkSendFailed asserts err is a send failure that does not leak the code.
func checkSendFailed(t *testing.T, err error, wantInErr string) {
	t.Helper()
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	if !errors.Is(err, upstream.ErrInvalid) && !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("got error %v, want it to wrap upstream.ErrInvalid or upstream.ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), wantInErr) {
		t.Errorf("got error %q, want it to contain %q", err, wantInErr)
	}
	if strings.Contains(err.Error(), testCode) {
		t.Errorf("got error %q, want it not to contain the code %q", err, testCode)
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		want string
	}{
		{name: "five_minutes", ttl: 5 * time.Minute, want: "Your Agency Platform code is 123456. It expires in 5 minutes. Do not share it."},
		{name: "rounds_down", ttl: 90 * time.Second, want: "Your Agency Platform code is 123456. It expires in 1 minutes. Do not share it."},
		{name: "at_least_one", ttl: 30 * time.Second, want: "Your Agency Platform code is 123456. It expires in 1 minutes. Do not share it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Message(testCode, tt.ttl); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWebhook_Send(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string // substring of the error; "" means success
	}{
		{name: "ok", status: http.StatusOK},
		{name: "ok_no_content", status: http.StatusNoContent},
		{name: "bad_request", status: http.StatusBadRequest, body: `{"error":"bad code 123456"}`, wantErr: "status 400"},
		{name: "server_error", status: http.StatusInternalServerError, body: testCode, wantErr: "status 500"},
	}
	wantBody := `{"to":"+919876543210","code":"123456","message":"` + Message(testCode, testTTL) + `"}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := newServer(t, tt.status, tt.body)
			s := NewWebhook(srv.Client(), srv.URL+"/hook", testTTL)

			err := s.Send(context.Background(), testTo, testCode)

			got := receive(t, reqs)
			if got.method != http.MethodPost {
				t.Errorf("got method %s, want POST", got.method)
			}
			if got.path != "/hook" {
				t.Errorf("got path %s, want /hook", got.path)
			}
			if got.contentType != "application/json" {
				t.Errorf("got content type %q, want application/json", got.contentType)
			}
			if string(got.body) != wantBody {
				t.Errorf("got body %s, want %s", got.body, wantBody)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("got error %v, want nil", err)
				}
				return
			}
			checkSendFailed(t, err, tt.wantErr)
		})
	}
}

func TestWebhook_SendDeadline(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up,
		// which cancels r.Context() and keeps srv.Close from waiting 2s.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	s := NewWebhook(srv.Client(), srv.URL, testTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	start := time.Now()
	err := s.Send(ctx, testTo, testCode)
	elapsed := time.Since(start)

	if elapsed > time.Second {
		t.Errorf("got Send returning after %v, want under 1s", elapsed)
	}
	checkSendFailed(t, err, "deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got error %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestWebhook_SendBadURLHidesURL(t *testing.T) {
	t.Parallel()
	s := NewWebhook(http.DefaultClient, "http://hooks.example\x7f/?token=s3cret", testTTL)

	err := s.Send(context.Background(), testTo, testCode)

	checkSendFailed(t, err, "webhook")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got error %q, want it not to contain the URL's secret", err)
	}
}

func TestTwilio_Send(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string // substring of the error; "" means success
	}{
		{name: "ok", status: http.StatusCreated, body: `{"sid":"SM123","status":"queued"}`},
		{
			name:    "invalid_to",
			status:  http.StatusBadRequest,
			body:    `{"code":21211,"message":"The 'To' number 123456 is not valid","status":400}`,
			wantErr: "21211",
		},
		{name: "server_error_not_json", status: http.StatusBadGateway, body: "<html>123456</html>", wantErr: "status 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := newServer(t, tt.status, tt.body)
			// The trailing slash must be trimmed, not doubled into the path.
			s := NewTwilio(srv.Client(), srv.URL+"/", "AC123", "tok", "+15005550006", testTTL)

			err := s.Send(context.Background(), testTo, testCode)

			got := receive(t, reqs)
			if got.method != http.MethodPost {
				t.Errorf("got method %s, want POST", got.method)
			}
			if want := "/2010-04-01/Accounts/AC123/Messages.json"; got.path != want {
				t.Errorf("got path %s, want %s", got.path, want)
			}
			if !got.basicOK || got.user != "AC123" || got.pass != "tok" {
				t.Errorf("got basic auth %q:%q (present %v), want AC123:tok", got.user, got.pass, got.basicOK)
			}
			if got.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("got content type %q, want application/x-www-form-urlencoded", got.contentType)
			}
			form, perr := url.ParseQuery(string(got.body))
			if perr != nil {
				t.Fatalf("got unparsable form %q: %v", got.body, perr)
			}
			wantForm := map[string]string{"To": testTo, "From": "+15005550006", "Body": Message(testCode, testTTL)}
			for k, want := range wantForm {
				if form.Get(k) != want {
					t.Errorf("got form %s=%q, want %q", k, form.Get(k), want)
				}
			}
			if len(form) != len(wantForm) {
				t.Errorf("got %d form fields, want %d", len(form), len(wantForm))
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("got error %v, want nil", err)
				}
				return
			}
			checkSendFailed(t, err, tt.wantErr)
		})
	}
}

func TestNewTwilio_DefaultBaseURL(t *testing.T) {
	t.Parallel()
	s := NewTwilio(nil, "", "AC123", "tok", "+15005550006", testTTL)

	if want := "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"; s.endpoint != want {
		t.Errorf("got endpoint %s, want %s", s.endpoint, want)
	}
}

func TestLog_Send(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := NewLog(slog.New(slog.NewTextHandler(&buf, nil)), testTTL)

	if err := s.Send(context.Background(), testTo, testCode); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}

	got := buf.String()
	for _, want := range []string{"level=WARN", "DEV SMS sender", "to=" + testTo, "code=" + testCode} {
		if !strings.Contains(got, want) {
			t.Errorf("got log %q, want it to contain %q", got, want)
		}
	}
}

// TestSend_FailureClasses: a 4xx is a refusal (upstream.ErrInvalid); 408,
// 429, 5xx and a timeout give no verdict (upstream.ErrUnavailable).
func TestSend_FailureClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		want   error
	}{
		{http.StatusBadRequest, upstream.ErrInvalid},
		{http.StatusUnauthorized, upstream.ErrInvalid},
		{http.StatusUnprocessableEntity, upstream.ErrInvalid},
		{http.StatusRequestTimeout, upstream.ErrUnavailable},
		{http.StatusTooManyRequests, upstream.ErrUnavailable},
		{http.StatusInternalServerError, upstream.ErrUnavailable},
		{http.StatusServiceUnavailable, upstream.ErrUnavailable},
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			hook, _ := newServer(t, tt.status, `{"code": 21211}`)
			twilio, _ := newServer(t, tt.status, `{"code": 21211}`)
			for name, s := range map[string]interface {
				Send(ctx context.Context, to, code string) error
			}{
				"webhook": NewWebhook(hook.Client(), hook.URL, testTTL),
				"twilio":  NewTwilio(twilio.Client(), twilio.URL, "AC123", "tok", "+15005550006", testTTL),
			} {
				if err := s.Send(context.Background(), testTo, testCode); !errors.Is(err, tt.want) {
					t.Errorf("%s: got %v, want it to wrap %v", name, err, tt.want)
				}
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(500 * time.Millisecond):
			}
		}))
		t.Cleanup(slow.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := NewWebhook(slow.Client(), slow.URL, testTTL).Send(ctx, testTo, testCode)
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want upstream.ErrUnavailable and context.DeadlineExceeded", err)
		}
	})
}
