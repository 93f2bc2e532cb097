package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Page is one tab, opened on a URL of the server under test. Its methods
// fail the test on error; call them from the test's goroutine.
type Page struct {
	t    testing.TB
	ctx  context.Context // the tab
	host string          // host:port of the opened URL; any other is external

	mu       sync.Mutex
	problems []problem
	allowed  map[int64]bool // HTTP statuses the test expects
}

// problem is one thing that went wrong on the page; status is set for an
// HTTP error response, which AllowStatus can excuse.
type problem struct {
	status int64
	text   string
}

// Open opens rawURL (http(s), or file:// for a page that must work offline:
// then every network request counts as external) in a new tab and records the page's problems from
// before its first request; when t ends it closes the tab and fails t if
// there were any (see Problems).
func (b *Browser) Open(t testing.TB, rawURL string) *Page {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Host == "" && u.Scheme != "file") {
		t.Fatalf("browsertest: open %q: want an absolute URL", rawURL)
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: t, ctx: ctx, host: u.Host, allowed: map[int64]bool{}}
	t.Cleanup(func() {
		p.flush()
		cancel()
		if msgs := p.Problems(); len(msgs) > 0 {
			t.Errorf("browsertest: %s had %d problem(s):\n  - %s", rawURL, len(msgs), strings.Join(msgs, "\n  - "))
		}
	})
	// Listen (not Events): the recorder sees each event before the reply
	// to any command sent after it, so flush can prove it saw them all.
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatalf("browsertest: open a tab: %v", err)
	}
	p.Run(chromedp.Navigate(rawURL))
	return p
}

// AllowStatus excuses responses with these HTTP statuses (a test that
// provokes a 401 on purpose, say); it applies to the whole page, also to
// responses already received.
func (p *Page) AllowStatus(statuses ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range statuses {
		p.allowed[int64(s)] = true
	}
}

// Problems lists what went wrong on the page so far, in order: console
// errors and warnings, uncaught exceptions, failed requests, HTTP errors
// not allowed, and requests to other hosts.
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, pr := range p.problems {
		if pr.status == 0 || !p.allowed[pr.status] {
			out = append(out, pr.text)
		}
	}
	return out
}

func (p *Page) add(status int64, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, problem{status: status, text: fmt.Sprintf(format, args...)})
}

// record runs in the tab's event loop: it must be quick and send nothing.
func (p *Page) record(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			p.add(0, "console.%s: %s", ev.Type, argsText(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		p.add(0, "uncaught exception: %s", exceptionText(ev.ExceptionDetails))
	case *log.EventEntryAdded:
		// The browser's own log. Its network entries ("Failed to load
		// resource: 404") repeat what the network events below judge,
		// with AllowStatus applied; the others (CSP violations, ...) count.
		e := ev.Entry
		if e.Source != log.EntrySourceNetwork && (e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) {
			p.add(0, "browser %s (%s): %s %s", e.Level, e.Source, e.Text, e.URL)
		}
	case *network.EventRequestWillBeSent:
		if u, err := url.Parse(ev.Request.URL); err == nil && external(u, p.host) {
			p.add(0, "external request: %s %s", ev.Request.Method, ev.Request.URL)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			p.add(ev.Response.Status, "HTTP %d %s", ev.Response.Status, ev.Response.URL)
		}
	case *network.EventLoadingFailed:
		// A request the page itself abandoned (a navigation away, an
		// aborted fetch) is not a failure; a blocked one is.
		if ev.Canceled && ev.BlockedReason == "" {
			return
		}
		reason := ev.ErrorText
		if ev.BlockedReason != "" {
			reason += ", blocked: " + string(ev.BlockedReason)
		}
		p.add(0, "request failed (%s): %s request %s", reason, ev.Type, ev.RequestID)
	}
}

// external reports whether u leaves the page's host. data:, blob: and the
// browser's own schemes stay inside the page.
func external(u *url.URL, host string) bool {
	switch u.Scheme {
	case "http", "https", "ws", "wss":
		return u.Host != host
	}
	return false
}

// flush waits until the tab has delivered every event it sent before now
// (a round trip through the same loop), so Problems is complete.
func (p *Page) flush() {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("0"))
}

// argsText joins a console call's arguments as the console shows them.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Type == runtime.RemoteObjectTypeString:
			var s string
			if json.Unmarshal([]byte(a.Value), &s) == nil {
				parts = append(parts, s)
				continue
			}
		case a.Description != "":
			parts = append(parts, a.Description)
			continue
		}
		if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, string(a.UnserializableValue)+string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// exceptionText is the error and where it was thrown.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text = d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// Run runs actions in the tab, in order, failing the test if one fails or
// they take longer than 20 s together.
func (p *Page) Run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(err)
	}
}

// get runs one action that returns a value.
func get[T any](p *Page, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail(err)
	}
	return v
}

// fail stops the test, with the page's problems so far: a console error
// is often why the element never appeared.
func (p *Page) fail(err error) {
	p.t.Helper()
	msg := fmt.Sprintf("browsertest: %v", err)
	if probs := p.Problems(); len(probs) > 0 {
		msg += "\npage problems so far:\n  - " + strings.Join(probs, "\n  - ")
	}
	p.t.Fatal(msg)
}

// Text is the visible text of the first element matching the CSS selector.
func (p *Page) Text(sel string) string {
	p.t.Helper()
	return get(p, chromedp.Text(chromedp.CSS(sel)))
}

// Eval evaluates a JavaScript expression and decodes its (JSON) value
// into out; out may be nil to ignore it. A promise is awaited.
func (p *Page) Eval(js string, out any) {
	p.t.Helper()
	raw := get(p, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if out == nil {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		p.t.Fatalf("browsertest: decode the value of %q (%s): %v", js, raw, err)
	}
}

// Click clicks the first element matching the CSS selector, once visible.
func (p *Page) Click(sel string) {
	p.t.Helper()
	p.Run(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// SetValue replaces the value of a form field and fires its input and
// change events, as a paste would.
func (p *Page) SetValue(sel, v string) {
	p.t.Helper()
	// chromedp.SetValue refuses an empty value, which a test clearing a
	// field needs; one script sets any value and fires the events.
	q, _ := json.Marshal(sel)
	val, _ := json.Marshal(v)
	p.Run(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](`(e => { e.value = `+string(val)+`;`+
			` e.dispatchEvent(new Event("input", {bubbles: true}));`+
			` e.dispatchEvent(new Event("change", {bubbles: true})) })(document.querySelector(`+string(q)+`))`),
	)
}

// Type types v into a form field, key by key, after what it holds.
func (p *Page) Type(sel, v string) {
	p.t.Helper()
	p.Run(chromedp.SendKeys(chromedp.CSS(sel), v, chromedp.NodeVisible))
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (p *Page) WaitVisible(sel string) {
	p.t.Helper()
	p.Run(chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Screenshot saves a full-page PNG as <name>.png in $SCREENSHOT_DIR when
// it is set (`make screenshots`), else in the test's artifact directory
// (kept with `go test -artifacts`), and logs the path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = p.t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("browsertest: %v", err)
	}
	png := get(p, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("browsertest: save screenshot: %v", err)
	}
	p.t.Logf("screenshot %s", path)
	return path
}
