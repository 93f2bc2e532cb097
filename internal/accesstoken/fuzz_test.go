package accesstoken_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/internal/accesstoken"
)

// fuzzIssuers returns an ES256 and an HS256 issuer and a valid token of
// each. Fuzz workers run this setup themselves, so the tokens are made in
// the process that checks them.
func fuzzIssuers(f *testing.F) ([]*accesstoken.Issuer, []string) {
	now := func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }
	key, err := accesstoken.GenerateES256PEM()
	if err != nil {
		f.Fatal(err)
	}
	es, err := accesstoken.New(accesstoken.Config{Algorithm: accesstoken.ES256, PrivateKey: key, Issuer: "i", Audience: "a", TTL: time.Minute}, now)
	if err != nil {
		f.Fatal(err)
	}
	hs, err := accesstoken.New(accesstoken.Config{Algorithm: accesstoken.HS256, Secret: "0123456789abcdef0123456789abcdef", Issuer: "i", Audience: "a", TTL: time.Minute}, now)
	if err != nil {
		f.Fatal(err)
	}
	var toks []string
	for _, iss := range []*accesstoken.Issuer{es, hs} {
		tok, _, err := iss.Issue(uuid.New(), uuid.New(), "creator")
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tok)
	}
	return []*accesstoken.Issuer{es, hs}, toks
}

// FuzzVerify_Mutations: a valid token with any one character changed, or
// cut short, or lengthened, never verifies.
func FuzzVerify_Mutations(f *testing.F) {
	issuers, toks := fuzzIssuers(f)
	f.Add(uint(0), byte('A'), uint(0))
	f.Add(uint(10), byte('.'), uint(0))
	f.Add(uint(1000), byte('x'), uint(1))
	f.Add(uint(5), byte('_'), uint(3))
	f.Fuzz(func(t *testing.T, pos uint, b byte, cut uint) {
		for i, iss := range issuers {
			valid := toks[i]
			m := []byte(valid)
			m[int(pos%uint(len(m)))] = b
			mutated := string(m)
			switch cut % 3 {
			case 1:
				mutated = mutated[:len(mutated)-1-int(pos%8)]
			case 2:
				mutated += string(b)
			}
			if mutated == valid {
				continue
			}
			if _, err := iss.Verify(mutated); err == nil {
				t.Fatalf("a mutation of a valid token verified: %q (from %q)", mutated, valid)
			}
		}
	})
}

// FuzzVerify_Garbage: no string panics the verifier.
func FuzzVerify_Garbage(f *testing.F) {
	issuers, toks := fuzzIssuers(f)
	for _, s := range append(toks, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "....", "eyJ") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, iss := range issuers {
			_, _ = iss.Verify(tok)
		}
	})
}
