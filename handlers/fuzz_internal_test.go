package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agency-platform/agency/services"
)

// FuzzDecodeJSON: no body panics the decoder or makes it fail with anything
// but a client error; what it accepts is one valid JSON object.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"phone":"+919876543210","code":"123456","device_info":"x"}`, `{}`, `null`, `[]`, `"x"`, `5`, ``,
		`{"PHONE":"1"}`, `{"phone":"a","phone":"b"}`, "{\"phone\":\"\xff\"}", `{"phone":5}`, `{"phone":{"a":[1,2]}}`,
		`{"phone":"x"} {}`, `{"phone":"x"`, strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		`{"phone":"\u0000"}`, `{"code":"１２３４５６"}`, `{"phone":"x","device_info":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, maxBodyBytes)
		var dst otpVerifyRequest
		err := decodeJSON(req, &dst)
		if err == nil {
			if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
				t.Fatalf("accepted %q, which is not one JSON object", body)
			}
			return
		}
		se, ok := services.AsError(err)
		if !ok || statusByKind[se.Kind] < 400 || statusByKind[se.Kind] >= 500 {
			t.Fatalf("decode %q: got %v, want a 4xx client error", body, err)
		}
		// Apart from the field it names (the client's own words), the
		// message speaks of JSON, not of Go.
		if msg := strings.ReplaceAll(se.Message, se.Field, ""); strings.Contains(msg, "handlers.") || strings.Contains(msg, "*string") || strings.Contains(msg, "struct") {
			t.Fatalf("decode %q: message %q names Go types", body, se.Message)
		}
	})
}

// FuzzParseBearer: no Authorization header panics the parser; a token it
// returns is the non-empty rest of a Bearer header, trimmed.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER  abc ", "Basic abc", "Bearer", "Bearer ", "", "Bearer\x00abc", "Bearer a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := parseBearer(h)
		if !ok {
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) || !strings.EqualFold(h[:6], "bearer") {
			t.Fatalf("parseBearer(%q) = %q, want the trimmed non-empty rest of a Bearer header", h, tok)
		}
	})
}
