package app_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/loadgen"
	"github.com/agency-platform/agency/internal/testdb"
)

// benchServerEnv is what `agency serve` needs to be loaded: codes to the
// load tool's SMS webhook at smsAddr, and room in the per-client limits.
func benchServerEnv(dbURL, smsAddr string) []string {
	return []string{"HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=" + dbURL, "CLEANUP_INTERVAL=0",
		"SMS_PROVIDER=webhook", "SMS_WEBHOOK_URL=http://" + smsAddr + "/sms",
		"OTP_MAX_SENDS_PER_IP_PER_HOUR=100000", "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR=100000"}
}

var (
	scenarioRe = regexp.MustCompile(`(?m)^(\S+) \((?:concurrency|rate)`)
	requestsRe = regexp.MustCompile(`(?m)^  requests   (\d+), \d+/s(?:, sign-ins (\d+))?`)
	notOKRe    = regexp.MustCompile(`\(not 2xx: (\d+)\)`)
)

// TestBench_EveryScenario runs `agency bench` against `agency serve` on
// PostgreSQL for a second per scenario: every scenario reports, answers
// are all 2xx, the sign-in scenarios complete sign-ins through the codes
// the server sent to the tool's SMS webhook, and the refresh pool survives
// its rotations (a lost token would show as an error or a lost session).
func TestBench_EveryScenario(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	smsAddr := freeAddr(t)
	base, logs, stop := startServe(t, benchServerEnv(db.URL, smsAddr))
	defer stop()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--url", base, "--sms-listen", smsAddr,
		"--duration", "1s", "--users", "8", "--concurrency", "4"}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s\nserver:\n%s", err, errOut.String(), out.String(), logs)
	}
	text := out.String()
	t.Log(text)
	scenarios := scenarioRe.FindAllStringSubmatch(text, -1)
	requests := requestsRe.FindAllStringSubmatch(text, -1)
	notOK := notOKRe.FindAllStringSubmatch(text, -1)
	if len(scenarios) != len(loadgen.Scenarios) || len(requests) != len(scenarios) || len(notOK) != len(scenarios) {
		t.Fatalf("got %d scenario reports, want %d", len(scenarios), len(loadgen.Scenarios))
	}
	for i, s := range scenarios {
		name := s[1]
		if name != loadgen.Scenarios[i] {
			t.Errorf("report %d: got %s, want %s", i, name, loadgen.Scenarios[i])
		}
		if n, _ := strconv.Atoi(requests[i][1]); n == 0 {
			t.Errorf("%s: no request answered", name)
		}
		if notOK[i][1] != "0" {
			t.Errorf("%s: %s answers not 2xx, want 0", name, notOK[i][1])
		}
		signins, _ := strconv.Atoi(requests[i][2])
		if wantSignIns := name != loadgen.ScenarioMe && name != loadgen.ScenarioRefresh; wantSignIns && signins == 0 {
			t.Errorf("%s: no sign-in completed", name)
		}
	}
	if strings.Contains(text, "sessions lost") {
		t.Errorf("refresh tokens were refused")
	}
}

// TestBench_RefusesRemoteTarget: a target off the loopback is refused
// before any request, unless --allow-remote.
func TestBench_RefusesRemoteTarget(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--url", "http://192.0.2.10:8080", "--sms-listen", "127.0.0.1:0"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("got %v, want a refusal naming --allow-remote", err)
	}
}
