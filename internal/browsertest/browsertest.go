// Package browsertest drives pages in a real headless Chromium for tests.
//
// A page opened with Open records what a user would never see but a
// broken page always shows: console errors and warnings, uncaught
// exceptions, failed requests (network errors, HTTP status 400 and up) and
// any request to a host other than the page's own. When the test ends the
// page fails it, listing each of them.
//
//	b := browsertest.New(t)
//	p := b.Open(t, srv.URL+"/docs")
//	p.Type("#search", "sessions")
//	p.Screenshot("docs")
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	// timeout bounds each Run (and each helper): a page that never shows
	// what a test waits for fails in seconds, not at the go test deadline.
	timeout = 20 * time.Second
	// startTimeout bounds the start of the browser process.
	startTimeout = 30 * time.Second
)

// installHint is how to get the browser; CI runs it (see .ci/run).
const installHint = "install it with `apt-get install -y chromium` (.ci/run does this before `make test`)"

// Browser is a headless Chromium shared by the tests of a package; each
// Open is one tab of it. It is safe for parallel tests.
type Browser struct {
	ctx    context.Context // the browser's first tab; new tabs are its children
	cancel context.CancelFunc
	dir    string // the fresh profile (--user-data-dir), removed on close
	users  int    // tests holding it; guarded by mu
}

// One browser per test binary: starting Chromium costs about a second, a
// tab a few milliseconds. It starts at the first New, and closes when the
// last test holding it ends (a later New starts it again), so no TestMain
// is needed and no process outlives the tests.
var (
	mu     sync.Mutex
	shared *Browser
)

// New returns the shared browser, starting it if needed, and holds it
// until t ends. It fails t when Chromium is not installed: browser tests
// are part of `make test`, never skipped.
func New(t testing.TB) *Browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		t.Fatalf("browsertest: %v; %s", err, installHint)
	}
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		if shared, err = start(path); err != nil {
			t.Fatalf("browsertest: start %s: %v", path, err)
		}
	}
	b := shared
	b.users++
	t.Cleanup(func() { release(b) })
	return b
}

// chromiumPath finds the browser: $CHROMIUM, else the first of the usual
// names on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium is not installed (none of chromium, chromium-browser, google-chrome is on PATH)")
}

// flags keep Chromium quiet on a machine without internet: without them it
// calls home (updates, sync, QUIC probes) and the refused connections
// clutter its log and slow its start.
func flags(path, dir string) []chromedp.ExecAllocatorOption {
	return append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
}

// start launches Chromium with a fresh profile and waits for its first tab.
func start(path string) (*Browser, error) {
	dir, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		return nil, err
	}
	// The browser lives longer than the test that starts it, so its
	// contexts hang off Background, not off t.Context().
	actx, acancel := chromedp.NewExecAllocator(context.Background(), flags(path, dir)...)
	bctx, bcancel := chromedp.NewContext(actx)
	b := &Browser{ctx: bctx, dir: dir, cancel: func() { bcancel(); acancel() }}
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err = <-started:
	case <-time.After(startTimeout):
		err = fmt.Errorf("no answer within %s", startTimeout)
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// release lets go of b for one test; the last one closes the browser.
func release(b *Browser) {
	mu.Lock()
	defer mu.Unlock()
	if b.users--; b.users > 0 {
		return
	}
	if shared == b {
		shared = nil
	}
	b.close()
}

// close ends the browser process and removes its profile.
func (b *Browser) close() {
	_ = chromedp.Cancel(b.ctx)
	b.cancel()
	_ = os.RemoveAll(b.dir)
}
