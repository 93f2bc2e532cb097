package services

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"

	"github.com/google/uuid"
)

// A refresh token is opaque to clients: base64url of the session id (16
// bytes), the rotation generation (8 bytes), a 256-bit secret and a 128-bit
// tag. It names its session, so a refresh is one indexed UPDATE by primary
// key.
//
// Only SHA-256(secret) is stored (token_hash). A slow password hash (the
// seed suggests bcrypt) protects low-entropy secrets against guessing; a
// 256-bit random secret cannot be guessed, so a fast hash is as safe and
// keeps refresh near the database's commit rate.
//
// Rotation derives the next secret instead of drawing a new one:
//
//	secret[g+1] = HMAC-SHA256(REFRESH_TOKEN_SECRET, "agency/refresh/v1" | session | g+1 | SHA-256(secret[g]))
//
// so the server can (1) hand a client that retries within the grace window
// the same current token without ever storing it in plain text, and (2)
// rotate a session itself (after a role change) from the stored hash.
//
// The tag proves that the server issued the token, in one HMAC:
//
//	tag = HMAC-SHA256(REFRESH_TOKEN_SECRET, "agency/refresh/tag/v1" | session | g | secret)[:16]
//
// A session issues one secret per generation, so a token of an older
// generation with a valid tag is an ancestor: presented again, it is reuse
// and ends the session. Proving that by rolling the old token forward to
// the stored hash costs one HMAC per generation in between, which an
// unauthenticated request could make thousands; the tag costs one.
// Reading the database alone gives none of this: the key is needed.
type refreshToken struct {
	session uuid.UUID
	gen     int64
	secret  [32]byte
	tag     [tagBytes]byte
	// legacy tokens were issued before tags existed (56 bytes, no tag).
	legacy bool
}

const (
	tagBytes          = 16
	legacyTokenBytes  = 16 + 8 + 32
	refreshTokenBytes = legacyTokenBytes + tagBytes
)

// legacyAncestorDistance bounds how far back a legacy (untagged) token is
// rolled forward to prove it belongs to a session: at most this many HMACs
// per request. Sessions move to tagged tokens at their next rotation.
const legacyAncestorDistance = 64

// refreshTokenEncoding is strict: a token has one spelling, so no other
// string (differing only in the unused bits of its last character) is the
// same token.
var refreshTokenEncoding = base64.RawURLEncoding.Strict()

// newRefreshToken starts a session's chain with a random secret.
func newRefreshToken(session uuid.UUID) (refreshToken, error) {
	t := refreshToken{session: session}
	_, err := rand.Read(t.secret[:])
	return t, err
}

// encode is the token as the client holds it, tagged.
func (k refreshKey) encode(t refreshToken) string {
	var b [refreshTokenBytes]byte
	copy(b[:16], t.session[:])
	binary.BigEndian.PutUint64(b[16:24], uint64(t.gen))
	copy(b[24:56], t.secret[:])
	tag := k.tag(t)
	copy(b[56:], tag[:])
	return refreshTokenEncoding.EncodeToString(b[:])
}

// parseRefreshToken decodes a client's token, tagged or legacy; ok is
// false for anything that is not exactly a token of ours in form.
func parseRefreshToken(s string) (refreshToken, bool) {
	var t refreshToken
	switch len(s) {
	case refreshTokenEncoding.EncodedLen(refreshTokenBytes):
	case refreshTokenEncoding.EncodedLen(legacyTokenBytes):
		t.legacy = true
	default:
		return t, false
	}
	b, err := refreshTokenEncoding.DecodeString(s)
	if err != nil || (len(b) != refreshTokenBytes && len(b) != legacyTokenBytes) {
		return t, false
	}
	copy(t.session[:], b[:16])
	gen := binary.BigEndian.Uint64(b[16:24])
	if gen > 1<<62 {
		return t, false
	}
	t.gen = int64(gen)
	copy(t.secret[:], b[24:56])
	copy(t.tag[:], b[56:])
	return t, true
}

// hash is what the database stores for the token.
func (t refreshToken) hash() string {
	h := sha256.Sum256(t.secret[:])
	return hex.EncodeToString(h[:])
}

// refreshKey derives rotated secrets and tags.
type refreshKey []byte

// next returns the token that follows the one whose stored hash is
// prevHash at generation gen of session.
func (k refreshKey) next(session uuid.UUID, gen int64, prevHash string) refreshToken {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("agency/refresh/v1"))
	m.Write(session[:])
	var g [8]byte
	binary.BigEndian.PutUint64(g[:], uint64(gen+1))
	m.Write(g[:])
	m.Write([]byte(prevHash))
	t := refreshToken{session: session, gen: gen + 1}
	copy(t.secret[:], m.Sum(nil))
	return t
}

// tag authenticates (session, generation, secret).
func (k refreshKey) tag(t refreshToken) [tagBytes]byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("agency/refresh/tag/v1"))
	m.Write(t.session[:])
	var g [8]byte
	binary.BigEndian.PutUint64(g[:], uint64(t.gen))
	m.Write(g[:])
	m.Write(t.secret[:])
	var tag [tagBytes]byte
	copy(tag[:], m.Sum(nil))
	return tag
}

// authentic reports whether a tagged token's tag is ours; a legacy token
// has none to check. Only the miss path of a refresh asks: the current
// token is proven by its stored hash alone, so a change of
// REFRESH_TOKEN_SECRET leaves current tokens working.
func (k refreshKey) authentic(t refreshToken) bool {
	if t.legacy {
		return true
	}
	tag := k.tag(t)
	return subtle.ConstantTimeCompare(tag[:], t.tag[:]) == 1
}

// isAncestor reports whether t is a genuine earlier token of a session now
// at generation gen with stored hash want, and how many HMACs it took to
// tell: one for a tagged token, at most legacyAncestorDistance for a legacy
// one (rolled forward to the stored hash).
func (k refreshKey) isAncestor(t refreshToken, gen int64, want string) (bool, int) {
	if gen <= t.gen {
		return false, 0
	}
	if !t.legacy {
		return k.authentic(t), 1
	}
	if gen-t.gen > legacyAncestorDistance {
		return false, 0
	}
	h := t.hash()
	for g := t.gen; g < gen; g++ {
		h = k.next(t.session, g, h).hash()
	}
	return equalHash(h, want), int(gen - t.gen)
}

// maxLostRotations bounds how many rotations a session may have lost (see
// isDescendant): at most this many HMACs per request.
const maxLostRotations = 64

// isDescendant reports whether t is a token the server issued after the
// one a session now holds (generation gen, stored hash have), at most
// maxLostRotations later: rolling the stored hash forward gives t's
// secret. That happens when the database lost the session's latest
// rotations (a failover to an asynchronous standby, a restore from a
// backup); t is then the token the client was really given. Only tagged
// tokens qualify, and the tag is checked first (one HMAC), so a forged
// token costs no more.
func (k refreshKey) isDescendant(t refreshToken, gen int64, have string) bool {
	if t.legacy || t.gen <= gen || t.gen-gen > maxLostRotations || !k.authentic(t) {
		return false
	}
	h := have
	for g := gen; g < t.gen; g++ {
		h = k.next(t.session, g, h).hash()
	}
	return equalHash(h, t.hash())
}

// equalHash compares two stored hashes in constant time.
func equalHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
