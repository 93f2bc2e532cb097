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
// bytes), the rotation generation (8 bytes) and a 256-bit secret. It names
// its session, so a refresh is one indexed UPDATE by primary key.
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
// the same current token without ever storing it in plain text, (2) prove
// that an old token presented again really is an ancestor of the session
// (by rolling it forward to the stored hash) before revoking the session,
// and (3) rotate a session itself (after a role change) from the stored
// hash. Reading the database alone gives none of this: the key is needed.
type refreshToken struct {
	session uuid.UUID
	gen     int64
	secret  [32]byte
}

const refreshTokenBytes = 16 + 8 + 32

// maxAncestorDistance bounds how far back a replayed token is rolled
// forward to prove it belongs to a session (a rotation every 15 minutes
// for 90 days is 8640).
const maxAncestorDistance = 20000

var refreshTokenEncoding = base64.RawURLEncoding

// newRefreshToken starts a session's chain with a random secret.
func newRefreshToken(session uuid.UUID) (refreshToken, error) {
	t := refreshToken{session: session}
	_, err := rand.Read(t.secret[:])
	return t, err
}

// String encodes the token for the client.
func (t refreshToken) String() string {
	var b [refreshTokenBytes]byte
	copy(b[:16], t.session[:])
	binary.BigEndian.PutUint64(b[16:24], uint64(t.gen))
	copy(b[24:], t.secret[:])
	return refreshTokenEncoding.EncodeToString(b[:])
}

// parseRefreshToken decodes a client's token; ok is false for anything
// that is not exactly a token of ours.
func parseRefreshToken(s string) (refreshToken, bool) {
	var t refreshToken
	if len(s) != refreshTokenEncoding.EncodedLen(refreshTokenBytes) {
		return t, false
	}
	b, err := refreshTokenEncoding.DecodeString(s)
	if err != nil || len(b) != refreshTokenBytes {
		return t, false
	}
	copy(t.session[:], b[:16])
	gen := binary.BigEndian.Uint64(b[16:24])
	if gen > 1<<62 {
		return t, false
	}
	t.gen = int64(gen)
	copy(t.secret[:], b[24:])
	return t, true
}

// hash is what the database stores for the token.
func (t refreshToken) hash() string {
	h := sha256.Sum256(t.secret[:])
	return hex.EncodeToString(h[:])
}

// refreshKey derives rotated secrets.
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

// rollsForwardTo reports whether t, rotated forward to generation gen,
// has the stored hash want: proof that t is a genuine ancestor.
func (k refreshKey) rollsForwardTo(t refreshToken, gen int64, want string) bool {
	if gen <= t.gen || gen-t.gen > maxAncestorDistance {
		return false
	}
	h := t.hash()
	for g := t.gen; g < gen; g++ {
		h = k.next(t.session, g, h).hash()
	}
	return equalHash(h, want)
}

// equalHash compares two stored hashes in constant time.
func equalHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
