package services

import (
	"testing"

	"github.com/google/uuid"
)

// Benchmarks of the CPU side of a refresh-token rotation, with a fixed key,
// session and secret so every run does the same work:
//
//	go test -run '^$' -bench . -benchmem ./services
//
// None of them touches the database.

// benchChain returns a key and a session's chain of tokens from generation
// 0 to n, each derived from the one before.
func benchChain(n int) (refreshKey, []refreshToken) {
	k := refreshKey("bench-refresh-key-0123456789abcdef")
	root := refreshToken{session: uuid.MustParse("5d0c6a3e-1b2f-4e8d-9c7a-6e5f4d3c2b1a")}
	for i := range root.secret {
		root.secret[i] = byte(i)
	}
	chain := []refreshToken{root}
	for g := range int64(n) {
		chain = append(chain, k.next(root.session, g, chain[g].hash()))
	}
	return k, chain
}

// BenchmarkRefreshToken_ParseHash decodes a client's tagged token and hashes
// its secret: what a refresh does before its UPDATE.
func BenchmarkRefreshToken_ParseHash(b *testing.B) {
	k, chain := benchChain(7)
	s := k.encode(chain[7])
	b.ReportAllocs()
	for b.Loop() {
		tok, ok := parseRefreshToken(s)
		if !ok {
			b.Fatal("parse: not a token")
		}
		_ = tok.hash()
	}
}

// BenchmarkRefreshKey_Next derives the next token from the stored hash,
// hashes it for the database and encodes it (with its tag) for the client.
func BenchmarkRefreshKey_Next(b *testing.B) {
	k, chain := benchChain(7)
	cur := chain[7]
	h := cur.hash()
	b.ReportAllocs()
	for b.Loop() {
		next := k.next(cur.session, cur.gen, h)
		_ = next.hash()
		_ = k.encode(next)
	}
}

// BenchmarkRefreshKey_IsAncestor tells whether a replayed old token belongs
// to the session: one tag check for a tagged token, and the worst case for
// a legacy (untagged) one, rolled forward legacyAncestorDistance generations.
func BenchmarkRefreshKey_IsAncestor(b *testing.B) {
	k, chain := benchChain(legacyAncestorDistance)
	head := chain[legacyAncestorDistance]
	want := head.hash()
	tagged, ok := parseRefreshToken(k.encode(chain[0]))
	if !ok {
		b.Fatal("parse: not a token")
	}
	legacy := chain[0]
	legacy.legacy = true
	for _, bc := range []struct {
		name string
		tok  refreshToken
		work int
	}{
		{"tagged", tagged, 1},
		{"legacy_64", legacy, legacyAncestorDistance},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if got, work := k.isAncestor(bc.tok, head.gen, want); !got || work != bc.work {
				b.Fatalf("isAncestor: got (%v, %d HMACs), want (true, %d)", got, work, bc.work)
			}
			b.ReportAllocs()
			for b.Loop() {
				k.isAncestor(bc.tok, head.gen, want)
			}
		})
	}
}
