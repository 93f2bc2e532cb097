package services

import (
	"crypto/rand"
	"testing"

	"github.com/google/uuid"
)

// TestRefreshKey_AncestorWorkIsBounded: telling a genuine ancestor from a
// forged token costs one HMAC for a tagged token, whatever the distance,
// and at most legacyAncestorDistance for an untagged (legacy) one; true
// reuse is still recognised.
func TestRefreshKey_AncestorWorkIsBounded(t *testing.T) {
	t.Parallel()
	k := refreshKey("test-refresh-key-0123456789abcdef")
	root, err := newRefreshToken(uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	chain := []refreshToken{root}
	for g := int64(0); g < 300; g++ {
		chain = append(chain, k.next(root.session, g, chain[g].hash()))
	}
	head := chain[len(chain)-1]
	parse := func(s string) refreshToken {
		tok, ok := parseRefreshToken(s)
		if !ok {
			t.Fatalf("parse %q: not a token", s)
		}
		return tok
	}

	for _, g := range []int{0, 150, 299} {
		got, work := k.isAncestor(parse(k.encode(chain[g])), head.gen, head.hash())
		if !got || work != 1 {
			t.Errorf("genuine tagged ancestor at generation %d: got (%v, %d HMACs), want (true, 1)", g, got, work)
		}
	}
	forged := refreshToken{session: root.session}
	_, _ = rand.Read(forged.secret[:])
	_, _ = rand.Read(forged.tag[:])
	for _, gen := range []int64{1, 300, 20000} {
		got, work := k.isAncestor(forged, gen, head.hash())
		if got || work > 1 {
			t.Errorf("forged tagged token, session at generation %d: got (%v, %d HMACs), want (false, at most 1)", gen, got, work)
		}
	}
	if k.authentic(forged) {
		t.Error("a token with a random tag passed as authentic")
	}

	legacy := func(tok refreshToken) refreshToken { tok.legacy = true; return tok }
	if got, work := k.isAncestor(legacy(chain[300-legacyAncestorDistance]), head.gen, head.hash()); !got || work > legacyAncestorDistance {
		t.Errorf("genuine legacy ancestor within reach: got (%v, %d HMACs), want (true, at most %d)", got, work, legacyAncestorDistance)
	}
	forged.legacy = true
	for _, gen := range []int64{300, 20000} {
		if got, work := k.isAncestor(forged, gen, head.hash()); got || work > legacyAncestorDistance {
			t.Errorf("forged legacy token, session at generation %d: got (%v, %d HMACs), want (false, at most %d)", gen, got, work, legacyAncestorDistance)
		}
	}
}

// TestRefreshToken_Formats: a token round-trips through encode and parse;
// the untagged form issued before tags still parses (as legacy); other
// lengths do not.
func TestRefreshToken_Formats(t *testing.T) {
	t.Parallel()
	k := refreshKey("test-refresh-key-0123456789abcdef")
	tok, _ := newRefreshToken(uuid.New())
	tok.gen = 7
	s := k.encode(tok)
	got, ok := parseRefreshToken(s)
	if !ok || got.legacy || got.session != tok.session || got.gen != 7 || got.secret != tok.secret || !k.authentic(got) {
		t.Fatalf("round trip of %q: got %+v (ok %v)", s, got, ok)
	}
	b, _ := refreshTokenEncoding.DecodeString(s)
	old := refreshTokenEncoding.EncodeToString(b[:legacyTokenBytes])
	if got, ok := parseRefreshToken(old); !ok || !got.legacy || got.secret != tok.secret {
		t.Fatalf("legacy form %q: got %+v (ok %v), want it parsed as legacy", old, got, ok)
	}
	for _, bad := range []string{"", s[:len(s)-1], s + "A", old[:len(old)-1]} {
		if _, ok := parseRefreshToken(bad); ok {
			t.Errorf("parse %q: got ok, want refused", bad)
		}
	}
}
