package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// Benchmarks of the two hot paths over real HTTP on PostgreSQL, in the
// test process (make bench-go); make bench loads a real server from another
// process:
//
//	go test -run '^$' -bench . -benchtime 3s -count 5 .
//
// They skip the spec validation of the tests (it would dominate).

// benchAPI signs n users in and returns the service and their token pairs.
func benchAPI(b *testing.B, n int) (*api, []apitest.Tokens) {
	b.Helper()
	a := newAPI(b, migration.Postgres, append(manySends, "ACCESS_TOKEN_TTL=24h")...)
	pairs := make([]apitest.Tokens, n)
	for i := range pairs {
		pairs[i] = a.SignIn(fmt.Sprintf("+9198765%05d", 43210+i))
	}
	return a, pairs
}

func postJSON(client *http.Client, url string, v any) (int, []byte, error) {
	body, _ := json.Marshal(v)
	res, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// BenchmarkRefresh rotates refresh tokens: each parallel worker keeps its
// own session and refreshes the token it got last (one statement per
// request on PostgreSQL).
func BenchmarkRefresh(b *testing.B) {
	a, pairs := benchAPI(b, 16)
	var next atomic.Int64
	b.SetParallelism(4) // 8 concurrent clients on 2 cores: enough to keep PostgreSQL busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		token := pairs[next.Add(1)-1].RefreshToken
		client := &http.Client{}
		for pb.Next() {
			status, body, err := postJSON(client, a.Server.URL+"/v1/auth/refresh", map[string]string{"refresh_token": token})
			if err != nil || status != http.StatusOK {
				b.Errorf("refresh: %d %v %s", status, err, body)
				return
			}
			var p apitest.Tokens
			if err := json.Unmarshal(body, &p); err != nil {
				b.Error(err)
				return
			}
			token = p.RefreshToken
		}
	})
}

// BenchmarkWhoAmI calls GET /v1/me (the remembered JWT, one SELECT of the
// user of a live session with its identities).
func BenchmarkWhoAmI(b *testing.B) {
	a, pairs := benchAPI(b, 16)
	var next atomic.Int64
	b.SetParallelism(4) // 8 concurrent clients on 2 cores: enough to keep PostgreSQL busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		token := pairs[next.Add(1)-1].AccessToken
		client := &http.Client{}
		for pb.Next() {
			req, _ := http.NewRequest("GET", a.Server.URL+"/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("me: %d", res.StatusCode)
				return
			}
		}
	})
}
