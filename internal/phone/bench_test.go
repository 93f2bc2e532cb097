package phone_test

import (
	"errors"
	"testing"

	"github.com/agency-platform/agency/internal/phone"
)

// Benchmarks of Normalize, which the OTP endpoints call on every request:
// valid numbers of a few countries written the way users type them, and
// invalid ones rejected before the parser (letters), by it (too short) or
// after it (premium rate, country not allowed):
//
//	go test -run '^$' -bench . -benchmem ./internal/phone
func BenchmarkNormalize(b *testing.B) {
	tests := []struct {
		name    string
		raw     string
		allowed []string
		want    string // "" means the number is refused
	}{
		{name: "IN_valid", raw: "+91 98765 43210", want: "+919876543210"},
		{name: "US_valid", raw: "+1 (650) 253-0000", want: "+16502530000"},
		{name: "GB_valid", raw: "+44 7400 123456", want: "+447400123456"},
		{name: "BR_valid", raw: "+55 11 96123-4567", want: "+5511961234567"},
		{name: "DE_valid_allowed", raw: "+49 1512 3456789", allowed: []string{"DE", "IN"}, want: "+4915123456789"},
		{name: "IN_invalid_short", raw: "+91 12345"},
		{name: "US_invalid_premium_rate", raw: "+1 900 555 0123"},
		{name: "US_invalid_letters", raw: "+1 800 FLOWERS"},
		{name: "GB_invalid_not_allowed", raw: "+44 7400 123456", allowed: []string{"IN", "US"}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			got, err := phone.Normalize(tt.raw, tt.allowed)
			switch {
			case tt.want == "" && !errors.Is(err, phone.ErrInvalid):
				b.Fatalf("got (%q, %v), want an error wrapping ErrInvalid", got, err)
			case tt.want != "" && (err != nil || got != tt.want):
				b.Fatalf("got (%q, %v), want %q", got, err, tt.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = phone.Normalize(tt.raw, tt.allowed)
			}
		})
	}
}
