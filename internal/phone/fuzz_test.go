package phone

import (
	"regexp"
	"testing"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzNormalize: no input panics; what is accepted is E.164 and normalises
// to itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+919876543210", "+91 98765 43210", "+1 (650) 253-0000", "12345", "+", "+0",
		"", "\x00", "+९१९८७६५४३२१०", "+91 98765 43210 ext. 5", "tel:+919876543210", "+999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalize(s, nil)
		if err != nil {
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q, want E.164", s, got)
		}
		if again, err := Normalize(got, nil); err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, then %q (%v), want the same number", s, got, again, err)
		}
	})
}
