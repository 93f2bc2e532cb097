package services

import (
	"testing"
	"time"
)

// TestRetryDelay: the first retry comes within a minute, each wait
// doubles (±20% jitter), and the 11 waits of 12 attempts add up to about a
// day (22.7 h without jitter).
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for range 200 {
		var total time.Duration
		for n := 1; n <= 11; n++ {
			d := retryDelay(n)
			base := retryBase << (n - 1)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("wait after attempt %d: got %s, want %s ±20%%", n, d, base)
			}
			total += d
		}
		if first := retryDelay(1); first > time.Minute {
			t.Fatalf("first retry after %s, want within a minute", first)
		}
		if total < 18*time.Hour || total > 28*time.Hour {
			t.Fatalf("12 attempts span %s, want about a day", total)
		}
	}
	if d := retryDelay(40); d > retryMaxDelay*12/10 {
		t.Fatalf("wait after attempt 40: got %s, want at most %s (+20%%)", d, retryMaxDelay)
	}
}
