package services

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Free text (names, device labels, search terms) must be valid UTF-8 with
// no control characters: PostgreSQL refuses a NUL in text (a 500 before),
// SQLite stores it, and control characters corrupt logs and displays.
// Names must also not hold the bidirectional overrides and isolates that
// make a name display as another.

// CheckText refuses free text that is not valid UTF-8 or holds a control
// character (C0, DEL or C1, tab and newline included), naming the field.
func CheckText(field, s string) error {
	switch {
	case !utf8.ValidString(s):
		return ErrValidationFailed.OnField(field, field+" must be valid UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return ErrValidationFailed.OnField(field, field+" must not contain control characters")
	}
	return nil
}

// checkName is CheckText for a person's name, which also refuses the
// bidirectional overrides and isolates.
func checkName(field, s string) error {
	if err := CheckText(field, s); err != nil {
		return err
	}
	if strings.IndexFunc(s, isBidiControl) >= 0 {
		return ErrValidationFailed.OnField(field, field+" must not contain bidirectional override characters")
	}
	return nil
}

// isBidiControl reports the embeddings, overrides and isolates (U+202A to
// U+202E, U+2066 to U+2069).
func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// cleanName drops from provider-supplied text (a Google or Facebook name,
// an email) what checkName refuses: the person cannot fix it, so the text
// is kept without it rather than refused.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return -1
		}
		return r
	}, s)
}
