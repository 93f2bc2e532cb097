package services

import "testing"

// FuzzParseRefreshToken: no string panics the parser, and a string it
// accepts is the one spelling of its token, so no other string is the
// same token.
func FuzzParseRefreshToken(f *testing.F) {
	k := refreshKey("test-refresh-key-0123456789abcdef")
	tok, _ := newRefreshToken([16]byte{1, 2, 3})
	s := k.encode(tok)
	for _, seed := range []string{s, s[:len(s)-1] + "B", s[:75], "", "garbage", s + "=", s[:len(s)-2] + "-_"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := parseRefreshToken(s)
		if !ok {
			return
		}
		b := make([]byte, 0, refreshTokenBytes)
		b = append(b, tok.session[:]...)
		b = append(b, byte(tok.gen>>56), byte(tok.gen>>48), byte(tok.gen>>40), byte(tok.gen>>32),
			byte(tok.gen>>24), byte(tok.gen>>16), byte(tok.gen>>8), byte(tok.gen))
		b = append(b, tok.secret[:]...)
		if !tok.legacy {
			b = append(b, tok.tag[:]...)
		}
		if again := refreshTokenEncoding.EncodeToString(b); again != s {
			t.Fatalf("parse(%q) spells back as %q: two strings would be one token", s, again)
		}
	})
}
