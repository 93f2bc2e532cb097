// Package phone parses and normalises phone numbers for SMS sign-in.
package phone

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is wrapped by every Normalize failure, so callers can map it
// to one client error with errors.Is and still log the specific reason.
var ErrInvalid = errors.New("phone: invalid number")

// maxRawLen bounds the input before it reaches the parser; no E.164
// number with separators needs more.
const maxRawLen = 32

// rejectedTypes are number types we refuse to send codes to: they cost the
// sender money (premium rate, shared cost) or are cheap to obtain in bulk
// (VoIP), which makes them a favourite for sign-up abuse.
var rejectedTypes = map[phonenumbers.PhoneNumberType]string{
	phonenumbers.PREMIUM_RATE: "premium-rate numbers are not accepted",
	phonenumbers.SHARED_COST:  "shared-cost numbers are not accepted",
	phonenumbers.VOIP:         "VoIP numbers are not accepted",
}

// Normalize parses raw, an international number with a leading '+'
// (spaces, dashes, dots and parentheses allowed), and returns it in E.164
// form such as "+919876543210". When allowed is non-empty the number's
// region must be one of those upper-case ISO 3166-1 alpha-2 codes.
// Every failure wraps ErrInvalid; error texts never include raw.
func Normalize(raw string, allowed []string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid("empty number")
	}
	if len(s) > maxRawLen {
		return "", invalid("number is too long")
	}
	if !strings.HasPrefix(s, "+") {
		return "", invalid("number must start with + and the country code")
	}
	// The parser also accepts letters (vanity numbers) and extensions;
	// neither belongs in a number we send a code to.
	if strings.ContainsFunc(s[1:], func(r rune) bool { return !isNumberRune(r) }) {
		return "", invalid("number contains characters other than digits and separators")
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", invalid("not a parsable number")
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", invalid("not a valid number")
	}
	if reason, ok := rejectedTypes[phonenumbers.GetNumberType(num)]; ok {
		return "", invalid(reason)
	}
	if len(allowed) > 0 {
		region := regionOf(num)
		if region == "" {
			return "", invalid("number does not belong to a country")
		}
		if !slices.Contains(allowed, region) {
			return "", invalid(fmt.Sprintf("country %s is not allowed", region))
		}
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// Mask hides the middle of an E.164 number for logs, keeping the '+', the
// first two digits and the last four: "+919876543210" becomes
// "+91******3210". Inputs shorter than 7 characters, or too short to
// hide anything, reveal nothing but the '+'.
func Mask(e164 string) string {
	const keepHead, keepTail = 2, 4
	runes := []rune(e164)
	digits := 0
	for _, r := range runes {
		if r != '+' {
			digits++
		}
	}
	short := len(runes) < 7 || digits <= keepHead+keepTail
	var b strings.Builder
	b.Grow(len(runes))
	i := 0
	for _, r := range runes {
		if r == '+' {
			b.WriteRune(r)
			continue
		}
		if !short && (i < keepHead || i >= digits-keepTail) {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}

// Region returns the ISO 3166-1 alpha-2 region of an E.164 number, or ""
// when it cannot be parsed or belongs to no country.
func Region(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return regionOf(num)
}

// regionOf maps the library's non-country answers ("" when unknown, "ZZ",
// and "001" for non-geographic numbers such as +800) to "".
func regionOf(num *phonenumbers.PhoneNumber) string {
	region := phonenumbers.GetRegionCodeForNumber(num)
	if region == phonenumbers.UNKNOWN_REGION || region == "001" {
		return ""
	}
	return region
}

// isNumberRune reports whether r may appear after the leading '+'.
func isNumberRune(r rune) bool {
	switch {
	case r >= '0' && r <= '9':
		return true
	case r == ' ', r == '-', r == '.', r == '(', r == ')':
		return true
	}
	return false
}

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, reason)
}
