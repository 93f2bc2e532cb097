package fakegraph

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// TestServer pins the Graph behaviour other packages' tests rely on: a
// fake that accepted what Graph rejects would let a broken client pass.
func TestServer(t *testing.T) {
	t.Parallel()
	const appID, secret, token = "111", "s3cret", "EAAtoken"
	appToken := appID + "|" + secret
	tests := []struct {
		name       string
		path       string
		query      url.Values
		wantStatus int
		wantBody   string
	}{
		{
			name: "debug_token_ok", path: "/debug_token", wantStatus: 200,
			query:    url.Values{"input_token": {token}, "access_token": {appToken}},
			wantBody: `{"data":{"app_id":"111","application":"App 111","expires_at":0,"is_valid":true,"scopes":["email","public_profile"],"type":"USER","user_id":"7"}}`,
		},
		{
			name: "debug_token_versioned_path", path: "/v19.0/debug_token", wantStatus: 200,
			query:    url.Values{"input_token": {"nobody"}, "access_token": {appToken}},
			wantBody: `{"data":{"error":{"code":190,"message":"Invalid OAuth access token."},"is_valid":false}}`,
		},
		{
			name: "debug_token_wrong_app_token", path: "/debug_token", wantStatus: 400,
			query:    url.Values{"input_token": {token}, "access_token": {appID + "|wrong"}},
			wantBody: `{"error":{"message":"Invalid OAuth access token signature.","type":"OAuthException","code":190,"fbtrace_id":"FakeTrace"}}`,
		},
		{
			name: "me_ok", path: "/me", wantStatus: 200,
			query:    url.Values{"access_token": {token}, "appsecret_proof": {Proof(secret, token)}, "fields": {"id,name,email,picture.type(large)"}},
			wantBody: `{"id":"7","name":"Ann","picture":{"data":{"height":200,"is_silhouette":false,"url":"https://p.example/7","width":200}}}`,
		},
		{
			name: "me_wrong_proof", path: "/me", wantStatus: 400,
			query:    url.Values{"access_token": {token}, "appsecret_proof": {Proof("wrong", token)}},
			wantBody: `{"error":{"message":"Invalid appsecret_proof provided in the API argument","type":"GraphMethodException","code":100,"fbtrace_id":"FakeTrace"}}`,
		},
		{
			name: "me_missing_proof", path: "/me", wantStatus: 400,
			query:    url.Values{"access_token": {token}},
			wantBody: `{"error":{"message":"API calls from the server require an appsecret_proof argument","type":"GraphMethodException","code":100,"fbtrace_id":"FakeTrace"}}`,
		},
		{
			name: "me_unknown_token", path: "/me", wantStatus: 400,
			query:    url.Values{"access_token": {"nobody"}, "appsecret_proof": {Proof(secret, "nobody")}},
			wantBody: `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"FakeTrace"}}`,
		},
	}
	s := New(t, appID, secret)
	s.AddUser(token, User{ID: "7", Name: "Ann", Picture: "https://p.example/7"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(s.URL + tt.path + "?" + tt.query.Encode())
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got, want := canonical(t, body), canonical(t, []byte(tt.wantBody)); got != want {
				t.Errorf("got body %s, want %s", got, want)
			}
		})
	}
	if got, want := s.Calls(), len(tests); got != want {
		t.Errorf("got %d calls, want %d", got, want)
	}
}

// canonical re-encodes JSON so key order does not matter.
func canonical(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	return string(out)
}
