package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agency-platform/agency/internal/browsertest"
)

// recorder stands in for the test a page reports to, so the harness's own
// verdict can be checked: it keeps Errorf calls and cleanups instead of
// failing the real test.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// end runs the cleanups as testing would (last first) and returns what
// they reported.
func (r *recorder) end() []string {
	for _, f := range slices.Backward(r.cleanups) {
		f()
	}
	return r.errs
}

// site is the page under test: each path shows one kind of problem. A page
// that does something after loading adds #done when it is over.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(other.Close)
	done := `.finally(() => document.body.append(Object.assign(document.createElement("p"), {id: "done", textContent: "done"})))`
	pages := map[string]string{
		"/clean":     `<p id="x">hello</p>`,
		"/console":   `<script>console.error("boom", 42)</script><p>x</p>`,
		"/warning":   `<script>console.warn("careful")</script><p>x</p>`,
		"/exception": `<script>throw new Error("kaput")</script><p>x</p>`,
		"/status":    `<script>fetch("/missing")` + done + `</script>`,
		"/broken":    `<script>fetch("/hangup").catch(() => {})` + done + `</script>`,
		"/external":  `<script>fetch("` + other.URL + `/x")` + done + `</script>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/favicon.ico":
			w.Header().Set("Content-Type", "image/x-icon")
			return
		case "/hangup": // a network error: the connection closes with no answer
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>t</title><body>" + body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowser_Problems proves that the harness can fail: each kind of
// problem reaches Problems and, at cleanup, the test's Errorf.
func TestBrowser_Problems(t *testing.T) {
	t.Parallel()
	srv := site(t)
	b := browsertest.New(t)
	tests := []struct {
		path  string
		wait  string // selector that shows the page is done
		allow int    // status to allow; 0: none
		want  string // "": no problem
	}{
		{path: "/clean", wait: "#x"},
		{path: "/console", want: "console.error: boom 42"},
		{path: "/warning", want: "console.warning: careful"},
		{path: "/exception", want: "uncaught exception: Error: kaput"},
		{path: "/status", wait: "#done", want: "HTTP 404 " + srv.URL + "/missing"},
		{path: "/status", wait: "#done", allow: 404},
		{path: "/broken", wait: "#done", want: "request failed (net::ERR_EMPTY_RESPONSE)"},
		{path: "/external", wait: "#done", want: "external request: GET http://127.0.0.1:"},
	}
	for _, tc := range tests {
		name := strings.TrimPrefix(tc.path, "/")
		if tc.allow != 0 {
			name += "_allowed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			p := b.Open(rec, srv.URL+tc.path)
			if tc.wait != "" {
				p.WaitVisible(tc.wait)
			}
			if tc.allow != 0 {
				p.AllowStatus(tc.allow)
			}
			errs := rec.end()
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("got %q, want no problem", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Fatalf("got %q, want one failure containing %q", errs, tc.want)
			}
			if probs := p.Problems(); !slices.ContainsFunc(probs, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("Problems: got %q, want one containing %q", probs, tc.want)
			}
		})
	}
}

// TestBrowser_Helpers drives a form through the helpers and saves a
// screenshot where SCREENSHOT_DIR says.
func TestBrowser_Helpers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>form</title><link rel="icon" href="data:,">
<input id="in"><button id="go">Go</button><p id="out"></p><p id="late" hidden>late</p>
<script>
document.getElementById("in").addEventListener("input", e => document.getElementById("out").textContent = "typed " + e.target.value);
document.getElementById("go").addEventListener("click", () => document.getElementById("late").hidden = false);
</script>`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Setenv("SCREENSHOT_DIR", dir) // hence not parallel
	p := browsertest.New(t).Open(t, srv.URL+"/")

	p.SetValue("#in", "abc")
	if got := p.Text("#out"); got != "typed abc" {
		t.Fatalf("after SetValue: got %q, want %q", got, "typed abc")
	}
	p.Type("#in", "de")
	if got := p.Text("#out"); got != "typed abcde" {
		t.Fatalf("after Type: got %q, want %q", got, "typed abcde")
	}
	p.Click("#go")
	p.WaitVisible("#late")
	var n int
	p.Eval(`document.querySelectorAll("p").length`, &n)
	if n != 2 {
		t.Fatalf("Eval: got %d paragraphs, want 2", n)
	}
	path := p.Screenshot("form")
	if want := filepath.Join(dir, "form.png"); path != want {
		t.Fatalf("screenshot path: got %s, want %s", path, want)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Fatalf("screenshot: got %d bytes (err %v), want a PNG", len(b), err)
	}
}
