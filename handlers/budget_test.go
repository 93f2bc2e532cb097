package handlers_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// Query budgets: every endpoint on the hot paths is held to a number of
// round trips to the database (statements, BEGIN and COMMIT each count),
// counted by a wrapper around the services' Ent driver through the real
// router. A change that adds a statement fails here, naming what was sent;
// the table of counts is printed in the test log (go test -v -run Budget).

// budgetRow is one endpoint's budget.
type budgetRow struct {
	name string
	// most is the budget per dialect (PostgreSQL, SQLite); txs the most
	// transactions the request may open.
	most map[string]int
	txs  int
	// prepare runs first, uncounted (a send for the code to verify);
	// call sends the request, want is its status.
	prepare func(a *api)
	call    func(a *api) apitest.Resp
	want    int
}

func TestBudget_Endpoints(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d, append(manySends, "ACCESS_TOKEN_TTL=24h")...) // the clock moves a minute per row
		known, many := otpTestPhone(1), otpTestPhone(2)
		pair := setRole(t, a, a.SignIn(known))
		// A user with 5 sessions and 2 sign-in methods: no count may grow
		// with them (no query per session or identity).
		for range 4 {
			a.SignIn(many)
		}
		busy := setRole(t, a, a.SignIn(many))
		link := a.Call("POST", "/v1/me/identities/phone", busy.AccessToken,
			map[string]string{"phone": otpTestPhone(3), "code": a.SendCode(otpTestPhone(3))})
		if link.Status != http.StatusCreated && link.Status != http.StatusOK {
			t.Fatalf("link a second number: got %d %s", link.Status, link.Body)
		}
		noRole := a.SignIn(otpTestPhone(4))
		var code string
		sendFirst := func(num string) func(a *api) {
			return func(a *api) { code = a.SendCode(num) }
		}
		rows := []budgetRow{
			{name: "POST /v1/auth/otp/send (new number)", most: both(5), want: 202,
				call: func(a *api) apitest.Resp { return postSend(a, otpTestPhone(5)) }},
			{name: "POST /v1/auth/otp/send (known number)", most: both(5), want: 202,
				call: func(a *api) apitest.Resp { return postSend(a, known) }},
			{name: "POST /v1/auth/otp/verify (known user)", most: verifyBudget, txs: 1, want: 200,
				prepare: func(a *api) { code = a.SMS.Code(t, known) },
				call:    func(a *api) apitest.Resp { return postVerify(a, known, code) }},
			{name: "POST /v1/auth/otp/verify (5 sessions, 2 methods)", most: verifyEvictBudget, txs: 1, want: 200,
				prepare: sendFirst(many), call: func(a *api) apitest.Resp { return postVerify(a, many, code) }},
			{name: "POST /v1/auth/otp/verify (new user)", most: verifyBudget, txs: 1, want: 200,
				prepare: sendFirst(otpTestPhone(6)), call: func(a *api) apitest.Resp { return postVerify(a, otpTestPhone(6), code) }},
			{name: "POST /v1/auth/refresh", most: map[string]int{migration.Postgres: 1, migration.SQLite: 2}, want: 200,
				call: func(a *api) apitest.Resp { return a.Refresh(busy.RefreshToken) }},
			{name: "GET /v1/me", most: both(1), want: 200,
				call: func(a *api) apitest.Resp { return a.Call("GET", "/v1/me", busy.AccessToken, nil) }},
			{name: "authentication alone (role-gated route, no role: 403)", most: both(1), want: 403,
				call: func(a *api) apitest.Resp { return a.Call("GET", "/v1/me/identities", noRole.AccessToken, nil) }},
			{name: "GET /v1/me/identities", most: both(1), want: 200,
				call: func(a *api) apitest.Resp { return a.Call("GET", "/v1/me/identities", busy.AccessToken, nil) }},
			{name: "GET /v1/me/sessions (5 sessions)", most: both(2), want: 200,
				call: func(a *api) apitest.Resp { return a.Call("GET", "/v1/me/sessions", busy.AccessToken, nil) }},
			// BEGIN, the DELETE, the audit row, COMMIT.
			{name: "POST /v1/auth/logout", most: both(4), txs: 1, want: 204,
				call: func(a *api) apitest.Resp { return a.Call("POST", "/v1/auth/logout", pair.AccessToken, nil) }},
		}
		var table strings.Builder
		fmt.Fprintf(&table, "statements per request on %s (budget):\n", d)
		for _, row := range rows {
			a.Clock.Advance(a.Config.OTP.ResendCooldown)
			if row.prepare != nil {
				row.prepare(a)
			}
			a.Statements.Take()
			r := row.call(a)
			sent, txs := a.Statements.Take()
			if r.Status != row.want {
				t.Fatalf("%s: got %d %s, want %d", row.name, r.Status, r.Body, row.want)
			}
			fmt.Fprintf(&table, "  %-56s %2d (%d)  transactions %d\n", row.name, len(sent), row.most[d], txs)
			if len(sent) > row.most[d] || txs > row.txs {
				short := make([]string, len(sent))
				for i, q := range sent {
					short[i] = apitest.Short(q)
				}
				t.Errorf("%s: got %d round trips in %d transactions, want at most %d in %d:\n  %s",
					row.name, len(sent), txs, row.most[d], row.txs, strings.Join(short, "\n  "))
			}
		}
		t.Log(table.String())
	})
}

// verifyBudget: on PostgreSQL the failure budgets' SELECT, the statement
// counting the try against both budgets before the code is compared, the
// statement that spends the code (giving the count back when it was
// right), then BEGIN, the user's lock, one statement writing the session
// (with the sign-in method's update, the new user's rows, the audit rows
// and the webhook events) and COMMIT. SQLite, the development database,
// sends the spending, the giving back and the writes one statement each.
var verifyBudget = map[string]int{migration.Postgres: 7, migration.SQLite: 12}

// verifyEvictBudget is a sign-in beyond the device limit: on PostgreSQL
// the session_evicted audit row, which needs the eviction's count, is one
// more statement.
var verifyEvictBudget = map[string]int{migration.Postgres: 8, migration.SQLite: 12}

func both(n int) map[string]int { return map[string]int{migration.Postgres: n, migration.SQLite: n} }

// setRole picks the creator role for the pair's user and returns the pair
// the answer carries.
func setRole(t *testing.T, a *api, p apitest.Tokens) apitest.Tokens {
	t.Helper()
	r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": "creator"})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT /v1/me/role: got %d %s, want 200", r.Status, r.Body)
	}
	var q apitest.Tokens
	r.JSON(t, &q)
	return q
}

// TestBudget_PgbenchScriptsAreTheServiceStatements keeps the ceilings of
// make bench honest: internal/loadgen/pgbench/me.sql and refresh.sql must
// hold the very statements the service sends for who-am-I and a rotation,
// with the parameters their comments list.
func TestBudget_PgbenchScriptsAreTheServiceStatements(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	pair := a.SignIn(otpTestPhone(1))
	for _, tc := range []struct {
		script string
		call   func() apitest.Resp
	}{
		{"me.sql", func() apitest.Resp { return a.Call("GET", "/v1/me", pair.AccessToken, nil) }},
		{"refresh.sql", func() apitest.Resp { return a.Refresh(pair.RefreshToken) }},
	} {
		a.Statements.Take()
		if r := tc.call(); r.Status != http.StatusOK {
			t.Fatalf("%s: got %d %s", tc.script, r.Status, r.Body)
		}
		sent, _ := a.Statements.Take()
		if len(sent) != 1 {
			t.Fatalf("%s: got %d statements, want 1", tc.script, len(sent))
		}
		_, service, _ := strings.Cut(sent[0], " ")
		params, script := readPgbenchScript(t, tc.script)
		for k := len(params); k >= 1; k-- { // $11 before $1
			service = strings.ReplaceAll(service, "$"+strconv.Itoa(k), params[k])
		}
		if service != script {
			t.Errorf("%s differs from the service's statement; with the parameters substituted the service sends\n%s\nthe script has\n%s", tc.script, service, script)
		}
	}
}

// readPgbenchScript returns a script's parameters ("-- $k: expression"
// lines) by number and its statement, on one line, without the ";".
func readPgbenchScript(t *testing.T, name string) (map[int]string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "loadgen", "pgbench", name))
	if err != nil {
		t.Fatal(err)
	}
	params := map[int]string{}
	var stmt []string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "-- $"):
			k, expr, _ := strings.Cut(strings.TrimPrefix(line, "-- $"), ": ")
			n, err := strconv.Atoi(k)
			if err != nil {
				t.Fatalf("%s: bad parameter line %q", name, line)
			}
			params[n] = expr
		case strings.HasPrefix(line, "--"), strings.HasPrefix(line, `\`), strings.TrimSpace(line) == "":
		default:
			stmt = append(stmt, line)
		}
	}
	return params, strings.TrimSuffix(strings.Join(strings.Fields(strings.Join(stmt, " ")), " "), ";")
}
