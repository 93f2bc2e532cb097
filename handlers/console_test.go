package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/agency-platform/agency/internal/browsertest"
	"github.com/agency-platform/agency/internal/migration"
)

const consolePhone = "+919812345679"

// consoleSession is a row of the console's session list.
type consoleSession struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
}

const consoleSessions = `[...document.querySelectorAll("#sessions tr")].map(r => ({id: r.dataset.id, current: r.classList.contains("current")}))`

// TestConsole_Page: the console is HTML with the pages' security headers,
// its script and stylesheet come from this server, and it says where the
// configured sender puts codes.
func TestConsole_Page(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.SQLite)
	p := fetchPage(t, a, "/console")
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /console: got %d %s, want 200 text/html", p.status, p.header.Get("Content-Type"))
	}
	wantPageHeaders(t, "/console", p)
	for _, want := range []string{`<script src="/console/console.js" defer>`, `href="/console/console.css"`, "to the server log"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("/console lacks %q", want)
		}
	}
	js := fetchPage(t, a, "/console/console.js")
	if js.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("console.js: got Content-Type %q", js.header.Get("Content-Type"))
	}
	// Tokens stay in memory: nothing in the script stores them or logs.
	for _, bad := range []string{"localStorage", "sessionStorage", "document.cookie", "console.log", "location.hash", "history."} {
		if strings.Contains(js.body, bad) {
			t.Errorf("console.js uses %s", bad)
		}
	}
}

// TestConsole_Browser walks the sign-in flow in Chromium: send a code, a
// wrong code shows the API's error, the right one (from the SMS sink)
// signs in, choose a role, see one current session, refresh, end another
// device's session, log out back to the start.
func TestConsole_Browser(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	p := browsertest.New(t).Open(t, a.Server.URL+"/console")
	p.AllowStatus(http.StatusUnauthorized) // the wrong code, on purpose

	p.SetValue("#phone", consolePhone)
	p.Click("#send")
	p.WaitVisible("#code")
	if got := p.Text("#code-where"); !strings.Contains(got, "server log") {
		t.Errorf("where the code is: got %q, want the server log", got)
	}
	code := a.SMS.Code(t, consolePhone)

	p.SetValue("#code", wrongCode(code))
	p.Click("#verify-button")
	p.WaitVisible("#error")
	if got, rid := p.Text("#error-code"), p.Text("#error-request-id"); got != "invalid_otp" || len(rid) < 8 {
		t.Fatalf("wrong code: got error %q with request id %q, want invalid_otp with an id", got, rid)
	}

	p.SetValue("#code", code)
	p.Click("#verify-button")
	p.WaitVisible("#role")
	var errorHidden bool
	if p.Eval(`document.getElementById("error").hidden`, &errorHidden); !errorHidden {
		t.Error("the error of the wrong code is still shown after signing in")
	}
	p.Click(`button.role[data-role="creator"]`)
	p.WaitVisible("#sessions tr.current")
	var sessions []consoleSession
	p.Eval(consoleSessions, &sessions)
	if len(sessions) != 1 || !sessions[0].Current {
		t.Fatalf("sessions after sign-in: got %+v, want exactly one, the current one", sessions)
	}
	if got := p.Text("#user-role"); got != "creator" {
		t.Errorf("role: got %q, want creator", got)
	}
	if got := p.Text("#identities"); !strings.Contains(got, "phone") || !strings.Contains(got, consolePhone) {
		t.Errorf("identities: got %q, want the phone identity", got)
	}
	p.Screenshot("console-signed-in")

	// Another device signs in; the console's refresh shows it, and ends it.
	a.Clock.Advance(a.Config.OTP.ResendCooldown)
	other := a.SignIn(consolePhone)
	p.Click("#refresh")
	p.WaitVisible("#info")
	if got := p.Text("#info"); !strings.Contains(got, "expires at") {
		t.Errorf("after refresh: got %q, want the new expiry", got)
	}
	p.WaitVisible("#sessions tr:nth-child(2)")
	p.Click("#sessions tr:not(.current) .end-session")
	p.Run(chromedp.WaitNotPresent(chromedp.CSS("#sessions tr:nth-child(2)")))
	p.Eval(consoleSessions, &sessions)
	if len(sessions) != 1 || !sessions[0].Current {
		t.Fatalf("sessions after ending the other: got %+v, want the current one only", sessions)
	}
	if r := a.Refresh(other.RefreshToken); r.Status != http.StatusUnauthorized {
		t.Errorf("the ended device's refresh: got %d, want 401", r.Status)
	}

	p.Click("#logout")
	p.WaitVisible("#phone")
	if got := p.Text("#info"); got != "Signed out." {
		t.Errorf("after logout: got %q, want \"Signed out.\"", got)
	}
	if n := a.Client.Session.Query().CountX(context.Background()); n != 0 {
		t.Errorf("sessions after logout: got %d, want 0", n)
	}
}

// TestConsole_DeleteAccount_Browser: "Delete my account" asks first;
// keeping the account changes nothing; confirming deletes it and returns
// to the start, and the account is gone.
func TestConsole_DeleteAccount_Browser(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	p := browsertest.New(t).Open(t, a.Server.URL+"/console")
	consoleSignIn(t, a, p, "brand")

	p.Click("#delete-account")
	p.WaitVisible("#delete-confirm")
	p.Click("#delete-no")
	p.Run(chromedp.WaitNotVisible(chromedp.CSS("#delete-confirm")))
	if n := a.Client.User.Query().CountX(context.Background()); n != 1 {
		t.Fatalf("users after keeping the account: got %d, want 1", n)
	}

	p.Click("#delete-account")
	p.WaitVisible("#delete-confirm")
	p.Screenshot("console-delete-account")
	p.Click("#delete-yes")
	p.WaitVisible("#phone")
	if got := p.Text("#info"); got != "Account deleted." {
		t.Errorf("after deleting: got %q, want \"Account deleted.\"", got)
	}
	ctx := context.Background()
	if users, sessions := a.Client.User.Query().CountX(ctx), a.Client.Session.Query().CountX(ctx); users != 0 || sessions != 0 {
		t.Fatalf("after deleting: %d users, %d sessions, want none", users, sessions)
	}
}

// TestConsole_ActivityAndExport_Browser: the signed-in console lists the
// user's security activity (GET /v1/me/activity) and offers the export
// (GET /v1/me/export) as a file to save.
func TestConsole_ActivityAndExport_Browser(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	p := browsertest.New(t).Open(t, a.Server.URL+"/console")
	consoleSignIn(t, a, p, "creator")
	p.WaitVisible(`#activity tr[data-type="role_set"]`)
	var types []string
	p.Eval(`Array.from(document.querySelectorAll("#activity tr")).map(r => r.getAttribute("data-type"))`, &types)
	if strings.Join(types, ",") != "role_set,signin_succeeded,user_created" {
		t.Fatalf("activity rows, newest first: got %v", types)
	}
	if got := p.Text(`#activity tr[data-type="signin_succeeded"] td:nth-child(3)`); got != "127.0.0.0/24" {
		t.Errorf("network of the sign-in: got %q, want 127.0.0.0/24", got)
	}
	p.Click("#export")
	p.WaitVisible("#export-ready")
	if got, want := p.Text("#export-summary"), "1 sign-in methods, 1 sessions, 3 activity entries."; got != want {
		t.Errorf("export summary: got %q, want %q", got, want)
	}
	var link struct{ Href, Download string }
	p.Eval(`({Href: document.getElementById("export-link").href, Download: document.getElementById("export-link").download})`, &link)
	if !strings.HasPrefix(link.Href, "blob:") || !strings.HasPrefix(link.Download, "agency-account-") {
		t.Errorf("export link: got %+v, want a blob: URL saved as agency-account-<id>.json", link)
	}
	p.Screenshot("console-activity")
}

// consoleSignIn signs a new user in through the console's forms and picks
// role, as a person would, and waits for the signed-in page.
func consoleSignIn(t *testing.T, a *api, p *browsertest.Page, role string) {
	t.Helper()
	p.SetValue("#phone", consolePhone)
	p.Click("#send")
	p.WaitVisible("#code")
	p.SetValue("#code", a.SMS.Code(t, consolePhone))
	p.Click("#verify-button")
	p.WaitVisible("#role")
	p.Click(`button.role[data-role="` + role + `"]`)
	p.WaitVisible("#sessions tr.current")
}
