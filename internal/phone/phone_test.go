package phone

import (
	"errors"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// exampleNumber returns the library's own example number of typ in region,
// in international format, so tests do not depend on guessed ranges.
func exampleNumber(t *testing.T, region string, typ phonenumbers.PhoneNumberType) string {
	t.Helper()
	num := phonenumbers.GetExampleNumberForType(region, typ)
	if num == nil {
		t.Fatalf("no example number of type %v for region %s", typ, region)
	}
	return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		allowed []string
		want    string
		wantErr string // substring of the error; "" means success
	}{
		{name: "ok_india_spaces", raw: "+91 98765 43210", want: "+919876543210"},
		{name: "ok_separators", raw: " +1 (650) 253-0000 ", want: "+16502530000"},
		{name: "premium_rate", raw: "+1 900 555 0123", wantErr: "premium-rate"},
		{name: "personal_number_ok", raw: "+1 500 555 0006", want: "+15005550006"},
		{name: "voip", raw: exampleNumber(t, "GB", phonenumbers.VOIP), wantErr: "VoIP"},
		{name: "shared_cost", raw: exampleNumber(t, "FR", phonenumbers.SHARED_COST), wantErr: "shared-cost"},
		{name: "empty", raw: "  ", wantErr: "empty"},
		{name: "no_plus", raw: "12345", wantErr: "must start with +"},
		{name: "too_long", raw: "+91 98765 43210 " + strings.Repeat("1", 20), wantErr: "too long"},
		{name: "letters", raw: "+1 800 FLOWERS", wantErr: "characters"},
		{name: "invalid_short", raw: "+91 12345", wantErr: "not a valid number"},
		{name: "country_not_allowed", raw: "+91 98765 43210", allowed: []string{"US", "GB"}, wantErr: "country IN is not allowed"},
		{name: "country_allowed", raw: "+91 98765 43210", allowed: []string{"US", "IN"}, want: "+919876543210"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.allowed)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q and no error, want error containing %q", got, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("got error %v, want it to wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
			if got != "" {
				t.Errorf("got %q with error, want empty string", got)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "india", in: "+919876543210", want: "+91******3210"},
		{name: "us", in: "+16502530000", want: "+16*****0000"},
		{name: "short", in: "+12345", want: "+*****"},
		{name: "nothing_to_hide", in: "+123456", want: "+******"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Mask(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "india", in: "+919876543210", want: "IN"},
		{name: "us", in: "+16502530000", want: "US"},
		{name: "non_geographic", in: "+80012345678", want: ""},
		{name: "unparsable", in: "abc", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Region(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
