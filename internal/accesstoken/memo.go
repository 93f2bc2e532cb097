package accesstoken

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Verifying an ES256 signature costs about 100 µs of CPU here, and a client
// presents the same access token on every request for its whole lifetime.
// The issuer therefore remembers the tokens it has fully verified: the
// SHA-256 of the exact token text and the claims it carried. A token is
// looked up by that digest, so any other text (one changed character, a
// forgery) misses and is verified in full. A hit still runs every check
// that depends on the clock (exp, iat, nbf, with the same leeway), so
// remembering changes the cost of a check, never its answer; what the
// database decides (is the session still live, the current role) is asked
// on every request as before. Nothing here is shared between instances or
// needs to be: it is a cache of a pure function of the token and the key.

// memoSize bounds each of the two generations of remembered tokens (about
// 200 bytes each, so at most about 1.6 MB in all).
const memoSize = 4096

// memo remembers verified tokens in two generations: a lookup finds a
// token in the current one, or moves it there from the previous one; when
// the current generation is full it becomes the previous one, and the
// tokens not used since are forgotten.
type memo struct {
	mu       sync.Mutex
	cur, old map[[sha256.Size]byte]remembered
}

// remembered is what a fully verified token said, with its times.
type remembered struct {
	claims    Claims
	notBefore time.Time // zero when absent
}

func newMemo() *memo {
	return &memo{cur: make(map[[sha256.Size]byte]remembered, memoSize)}
}

func (m *memo) get(key [sha256.Size]byte) (remembered, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.cur[key]; ok {
		return r, true
	}
	r, ok := m.old[key]
	if ok {
		m.putLocked(key, r)
	}
	return r, ok
}

func (m *memo) put(key [sha256.Size]byte, r remembered) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(key, r)
}

func (m *memo) putLocked(key [sha256.Size]byte, r remembered) {
	if len(m.cur) >= memoSize {
		m.old, m.cur = m.cur, make(map[[sha256.Size]byte]remembered, memoSize)
	}
	m.cur[key] = r
}

// checkTimes applies the clock's checks of the parser (jwt's validator with
// leeway) to a remembered token.
func (i *Issuer) checkTimes(r remembered) error {
	now := i.now()
	switch {
	case !now.Before(r.claims.ExpiresAt.Add(leeway)):
		return invalid("expired")
	case now.Add(leeway).Before(r.claims.IssuedAt):
		return invalid("issued in the future")
	case !r.notBefore.IsZero() && now.Add(leeway).Before(r.notBefore):
		return invalid("not valid yet")
	}
	return nil
}
