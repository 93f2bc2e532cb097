// Package fakegraph is a local stand-in for the Facebook Graph API in tests.
//
// It serves the two calls a server-side Facebook Login check makes,
// GET /debug_token and GET /me, with Graph's answer shapes and error
// bodies, and enforces what Graph enforces: the app access token on
// debug_token and the appsecret_proof on /me. A leading version segment
// ("/v19.0/me") is accepted, so the base URL may be s.URL or s.URL+"/v19.0".
//
// The fake has no clock: it reports ExpiresAt as stored and leaves the
// expiry decision to the code under test, which owns the injected clock.
package fakegraph

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// User is what Graph knows about one user access token.
type User struct {
	ID      string // app-scoped user id, reported by debug_token and (by default) /me
	Name    string
	Email   string // empty: /me omits the field, as for users without a confirmed email
	Picture string // URL returned as picture.data.url
	// AppID is the app the token was issued to; empty means the server's
	// app. Set another to simulate a token minted for a different app.
	AppID string
	// Type is debug_token's token type; empty means "USER".
	Type string
	// ExpiresAt is the Unix expiry debug_token reports; 0 means never.
	ExpiresAt int64
	// Invalid makes debug_token answer is_valid false and /me reject the
	// token, as for a revoked session.
	Invalid bool
	// MeID, when set, is the id /me answers instead of ID, to simulate
	// Graph disagreeing with itself between the two calls.
	MeID string
}

// Server is a running fake Graph API. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure as the Graph URL.
	URL string

	appID     string
	appSecret string

	mu    sync.Mutex
	users map[string]User // by access token
	delay time.Duration
	down  bool
	calls int
}

// New starts a fake Graph for the app appID with secret appSecret. The
// server is closed in t.Cleanup.
func New(t testing.TB, appID, appSecret string) *Server {
	t.Helper()
	s := &Server{appID: appID, appSecret: appSecret, users: map[string]User{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// AddUser registers token as a user access token described by u, filling
// the AppID and Type defaults. A second call for the same token replaces it.
func (s *Server) AddUser(token string, u User) {
	if u.AppID == "" {
		u.AppID = s.appID
	}
	if u.Type == "" {
		u.Type = "USER"
	}
	if u.MeID == "" {
		u.MeID = u.ID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[token] = u
}

// SetDelay makes every later request wait d before answering (or until
// the client gives up), to exercise timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetDown makes every later request answer 503 when down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls reports how many requests the server has received.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	delay, down := s.delay, s.down
	s.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return // the client gave up; returning lets srv.Close finish
		}
	}
	if down {
		writeError(w, http.StatusServiceUnavailable, graphError{
			Message: "Service temporarily unavailable", Type: "OAuthException", Code: 2, IsTransient: true,
		})
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusBadRequest, graphError{
			Message: "Unsupported " + strings.ToLower(r.Method) + " request.", Type: "GraphMethodException", Code: 100,
		})
		return
	}
	switch path := stripVersion(r.URL.Path); path {
	case "/debug_token":
		s.debugToken(w, r.URL.Query())
	case "/me":
		s.me(w, r.URL.Query())
	default:
		writeError(w, http.StatusBadRequest, graphError{
			Message: "Unknown path components: " + path, Type: "OAuthException", Code: 2500,
		})
	}
}

// debugToken answers like Graph's /debug_token: the caller must present
// the app access token; an unknown input token is a 200 with is_valid false.
func (s *Server) debugToken(w http.ResponseWriter, q url.Values) {
	switch q.Get("access_token") {
	case "":
		writeError(w, http.StatusBadRequest, graphError{
			Message: "An access token is required to request this resource.", Type: "OAuthException", Code: 104,
		})
		return
	case s.appID + "|" + s.appSecret:
	default:
		writeError(w, http.StatusBadRequest, graphError{
			Message: "Invalid OAuth access token signature.", Type: "OAuthException", Code: 190,
		})
		return
	}
	input := q.Get("input_token")
	if input == "" {
		writeError(w, http.StatusBadRequest, graphError{
			Message: "(#100) The parameter input_token is required", Type: "OAuthException", Code: 100,
		})
		return
	}
	u, ok := s.user(input)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"is_valid": false,
			"error":    map[string]any{"code": 190, "message": "Invalid OAuth access token."},
		}})
		return
	}
	data := map[string]any{
		"app_id":      u.AppID,
		"type":        u.Type,
		"application": "App " + u.AppID,
		"is_valid":    !u.Invalid,
		"expires_at":  u.ExpiresAt,
		"user_id":     u.ID,
		"scopes":      []string{"email", "public_profile"},
	}
	if u.Invalid {
		data["error"] = map[string]any{"code": 190, "subcode": 460, "message": msgSessionInvalidated}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

const msgSessionInvalidated = "Error validating access token: The session has been invalidated " +
	"because the user changed their password or Facebook has changed the session for security reasons."

// me answers like Graph's /me with "Require App Secret" switched on: a
// known, valid token and a correct appsecret_proof, then the requested
// fields only.
func (s *Server) me(w http.ResponseWriter, q url.Values) {
	token := q.Get("access_token")
	u, ok := s.user(token)
	switch {
	case token == "":
		writeError(w, http.StatusBadRequest, graphError{
			Message: "An active access token must be used to query information about the current user.",
			Type:    "OAuthException", Code: 2500,
		})
		return
	case !ok:
		writeError(w, http.StatusBadRequest, graphError{Message: "Invalid OAuth access token.", Type: "OAuthException", Code: 190})
		return
	case u.Invalid:
		writeError(w, http.StatusBadRequest, graphError{Message: msgSessionInvalidated, Type: "OAuthException", Code: 190, Subcode: 460})
		return
	}
	proof := q.Get("appsecret_proof")
	if proof == "" {
		writeError(w, http.StatusBadRequest, graphError{
			Message: "API calls from the server require an appsecret_proof argument", Type: "GraphMethodException", Code: 100,
		})
		return
	}
	if !hmac.Equal([]byte(proof), []byte(Proof(s.appSecret, token))) {
		writeError(w, http.StatusBadRequest, graphError{
			Message: "Invalid appsecret_proof provided in the API argument", Type: "GraphMethodException", Code: 100,
		})
		return
	}
	writeJSON(w, http.StatusOK, profile(u, q.Get("fields")))
}

// profile builds /me's body. Like Graph, it returns id always, only the
// other fields asked for, and no email when the user has none.
func profile(u User, fields string) map[string]any {
	if fields == "" {
		fields = "id,name"
	}
	body := map[string]any{"id": u.MeID}
	for f := range strings.SplitSeq(fields, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(f), ".")
		switch name {
		case "name":
			body["name"] = u.Name
		case "email":
			if u.Email != "" {
				body["email"] = u.Email
			}
		case "picture":
			body["picture"] = map[string]any{"data": map[string]any{
				"height": 200, "width": 200, "is_silhouette": u.Picture == "", "url": u.Picture,
			}}
		}
	}
	return body
}

// Proof returns the appsecret_proof Graph expects for token:
// hex(HMAC-SHA256(key=appSecret, msg=token)). Tests use it to assert that
// a proof never leaks into an error message.
func Proof(appSecret, token string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}

func (s *Server) user(token string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[token]
	return u, ok
}

// stripVersion drops a leading "/vNN.N" segment.
func stripVersion(path string) string {
	rest, ok := strings.CutPrefix(path, "/v")
	if !ok {
		return path
	}
	version, tail, _ := strings.Cut(rest, "/")
	if version == "" || strings.Trim(version, "0123456789.") != "" {
		return path
	}
	return "/" + tail
}

// graphError is Graph's error object.
type graphError struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode,omitempty"`
	IsTransient bool   `json:"is_transient,omitempty"`
	TraceID     string `json:"fbtrace_id"`
}

func writeError(w http.ResponseWriter, status int, e graphError) {
	e.TraceID = "FakeTrace" // Graph always sends one; callers may log it
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
