package accesstoken_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/accesstoken"
)

// Benchmarks of signing (Issue) and verifying (Verify) one access token with
// each algorithm, and of rejecting a token whose signature was tampered with.
// The clock is fixed, so every verify sees the same valid token:
//
//	go test -run '^$' -bench . -benchmem ./internal/accesstoken

// benchIssuers returns an ES256 issuer (fresh P-256 key, as the tests use)
// and an HS256 issuer, keyed by algorithm, on the fixed clock at t0.
func benchIssuers(b *testing.B) map[string]*accesstoken.Issuer {
	b.Helper()
	keyPEM, err := accesstoken.GenerateES256PEM()
	if err != nil {
		b.Fatalf("GenerateES256PEM: %v", err)
	}
	c := &clock{t: t0}
	out := map[string]*accesstoken.Issuer{}
	for alg, cfg := range map[string]accesstoken.Config{accesstoken.ES256: esConfig(keyPEM), accesstoken.HS256: hsConfig()} {
		i, err := accesstoken.New(cfg, c.now)
		if err != nil {
			b.Fatalf("New(%s): %v", alg, err)
		}
		out[alg] = i
	}
	return out
}

// benchToken issues one token with a role, as a signed-in user holds it.
func benchToken(b *testing.B, i *accesstoken.Issuer) string {
	b.Helper()
	token, _, err := i.Issue(userID, sessionID, "creator")
	if err != nil {
		b.Fatalf("Issue: %v", err)
	}
	return token
}

var benchAlgorithms = []string{accesstoken.ES256, accesstoken.HS256}

// BenchmarkIssue signs one token (claims, random jti, signature).
func BenchmarkIssue(b *testing.B) {
	issuers := benchIssuers(b)
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			i := issuers[alg]
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := i.Issue(userID, sessionID, "creator"); err != nil {
					b.Fatalf("Issue: %v", err)
				}
			}
		})
	}
}

// BenchmarkVerify checks valid tokens: "remembered" presents one token
// again and again, as a client does during its token's lifetime (the issuer
// recognises it and checks only its times); "first_sight" cycles through
// more tokens than the issuer remembers, so each is parsed and its
// signature verified in full.
func BenchmarkVerify(b *testing.B) {
	issuers := benchIssuers(b)
	for _, alg := range benchAlgorithms {
		i := issuers[alg]
		b.Run(alg+"/remembered", func(b *testing.B) {
			token := benchToken(b, i)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := i.Verify(token); err != nil {
					b.Fatalf("Verify: %v", err)
				}
			}
		})
		b.Run(alg+"/first_sight", func(b *testing.B) {
			tokens := make([]string, 10000) // more than the two generations of 4096 remembered
			for k := range tokens {
				tokens[k] = benchToken(b, i)
			}
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				if _, err := i.Verify(tokens[k%len(tokens)]); err != nil {
					b.Fatalf("Verify: %v", err)
				}
				k++
			}
		})
	}
}

// BenchmarkVerify_BadSignature rejects a well-formed token whose signature
// has one character changed: the full parse and signature check run, then
// the rejection path builds its error.
func BenchmarkVerify_BadSignature(b *testing.B) {
	issuers := benchIssuers(b)
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			i := issuers[alg]
			token := badSignature(b, benchToken(b, i))
			if _, err := i.Verify(token); !errors.Is(err, accesstoken.ErrInvalid) || !strings.Contains(err.Error(), "bad signature") {
				b.Fatalf("Verify of a tampered token: got %v, want a bad signature error", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := i.Verify(token); err == nil {
					b.Fatal("Verify of a tampered token: got nil error")
				}
			}
		})
	}
}

// badSignature changes a character in the middle of the signature, where
// every bit counts (the last character has unused bits).
func badSignature(b *testing.B, token string) string {
	b.Helper()
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 || len(token)-dot < 10 {
		b.Fatalf("token has no signature segment")
	}
	pos := dot + 5
	c := byte('A')
	if token[pos] == 'A' {
		c = 'B'
	}
	return token[:pos] + string(c) + token[pos+1:]
}
