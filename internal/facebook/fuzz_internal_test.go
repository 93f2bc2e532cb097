package facebook

import (
	"errors"
	"testing"

	"github.com/agency-platform/agency/internal/upstream"
)

// FuzzClassify: no Graph answer panics the parser; every one either decodes
// (a 200 with a JSON body) or is exactly one of invalid or unavailable.
func FuzzClassify(f *testing.F) {
	for _, seed := range []struct {
		code int
		body string
	}{
		{200, `{"data":{"is_valid":true,"app_id":"1","user_id":"2","type":"USER","expires_at":0}}`},
		{200, `<html>`}, {200, ``}, {400, `{"error":{"message":"bad","type":"OAuthException","code":190}}`},
		{400, `{"error":{"code":4,"is_transient":true}}`}, {400, `{"error":null}`}, {404, `<html>not found</html>`},
		{429, `{}`}, {500, `{"error":{"code":1}}`}, {302, ``}, {400, `{"error":{"message":"` + "\x00\xff" + `"}}`},
	} {
		f.Add(seed.code, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		var out struct {
			Data *debugTokenData `json:"data"`
		}
		err := classify("debug_token", code, body, &out)
		if err == nil {
			if code != 200 {
				t.Fatalf("status %d %q decoded as success", code, body)
			}
			return
		}
		if errors.Is(err, upstream.ErrInvalid) == errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("status %d %q: got %v, want exactly one of invalid or unavailable", code, body, err)
		}
	})
}
