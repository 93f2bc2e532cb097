package loadgen

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Report is what one run measured.
type Report struct {
	Scenario    string
	Concurrency int
	Rate        int
	Duration    time.Duration // from the first request to the last answer
	Requests    uint64
	// PerSecond is answered requests per second (any status).
	PerSecond float64
	// SignIns is the number of verifies answered 200 (sign-in scenarios).
	SignIns int64
	// SessionsLost counts refresh tokens refused (401): a rotation chain broken.
	SessionsLost          int64
	P50, P90, P99, Max    time.Duration
	Status                map[int]int // 0: no answer
	Routes                []Route
	ServerCPU, LoadCPU    float64 // seconds; -1: unknown
	PostgresCPU           float64
	ServerRSS, ServerPeak int64 // bytes at the end, and the process's peak over its life
	// ServerMaxRSS is the largest resident size seen during the run
	// (sampled every 250 ms).
	ServerMaxRSS int64

	all    vegeta.Metrics
	routes map[string]*vegeta.Metrics
}

// Route is one endpoint's share of a run.
type Route struct {
	Name     string
	Requests uint64
	P50, P99 time.Duration
}

func newReport(name string, l Load) *Report {
	return &Report{Scenario: name, Concurrency: l.Concurrency, Rate: l.Rate, Status: map[int]int{}, routes: map[string]*vegeta.Metrics{}}
}

func (r *Report) add(res *vegeta.Result) {
	r.all.Add(res)
	r.Status[int(res.Code)]++
	name := res.Method + " " + res.URL
	if u, err := url.Parse(res.URL); err == nil {
		name = res.Method + " " + u.Path
	}
	m, ok := r.routes[name]
	if !ok {
		m = &vegeta.Metrics{}
		r.routes[name] = m
	}
	m.Add(res)
}

// progress prints how far a run is.
func (r *Report) progress(w io.Writer) {
	if w == nil || r.all.Requests == 0 {
		return
	}
	elapsed := time.Since(r.all.Earliest)
	fmt.Fprintf(w, "  %s: %s, %d requests, %.0f/s, %d not 2xx\n", r.Scenario, elapsed.Round(time.Second),
		r.all.Requests, float64(r.all.Requests)/elapsed.Seconds(), r.Errors())
}

// finish computes the figures from the results and the CPU readings.
func (r *Report) finish(before, after cpu, serverPID int) {
	r.all.Close()
	r.Requests = r.all.Requests
	r.Duration = r.all.Duration + r.all.Wait
	if r.Duration > 0 {
		r.PerSecond = float64(r.Requests) / r.Duration.Seconds()
	}
	l := r.all.Latencies
	r.P50, r.P90, r.P99, r.Max = l.P50, l.P90, l.P99, l.Max
	for name, m := range r.routes {
		m.Close()
		r.Routes = append(r.Routes, Route{Name: name, Requests: m.Requests, P50: m.Latencies.P50, P99: m.Latencies.P99})
	}
	slices.SortFunc(r.Routes, func(a, b Route) int { return int(b.Requests) - int(a.Requests) })
	r.ServerCPU = delta(before.server, after.server)
	r.LoadCPU = delta(before.self, after.self)
	r.PostgresCPU = delta(before.postgres, after.postgres)
	r.ServerRSS, r.ServerPeak = rss(serverPID)
	r.ServerMaxRSS = max(r.ServerMaxRSS, r.ServerRSS)
}

func delta(a, b float64) float64 {
	if a < 0 || b < 0 {
		return -1
	}
	return b - a
}

// Errors is the number of answers that were not 2xx, and of requests with
// no answer.
func (r *Report) Errors() int {
	n := 0
	for code, c := range r.Status {
		if code < 200 || code > 299 {
			n += c
		}
	}
	return n
}

// SignInsPerSecond is the rate of completed sign-ins.
func (r *Report) SignInsPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.SignIns) / r.Duration.Seconds()
}

// CPUPerRequest is the server's CPU microseconds per request (-1: unknown).
func (r *Report) CPUPerRequest(seconds float64) float64 {
	if seconds < 0 || r.Requests == 0 {
		return -1
	}
	return seconds * 1e6 / float64(r.Requests)
}

// StatusText lists the answers by status, "200: 12000, 503: 3".
func (r *Report) StatusText() string {
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, r.Status[c]))
	}
	return strings.Join(parts, ", ")
}

// Write prints the report as text.
func (r *Report) Write(w io.Writer) {
	load := fmt.Sprintf("concurrency %d", r.Concurrency)
	if r.Rate > 0 {
		load = fmt.Sprintf("rate %d/s, at most %d in flight", r.Rate, r.Concurrency)
	}
	fmt.Fprintf(w, "%s (%s, %s)\n", r.Scenario, load, r.Duration.Round(10*time.Millisecond))
	fmt.Fprintf(w, "  requests   %d, %.0f/s", r.Requests, r.PerSecond)
	if r.SignIns > 0 {
		fmt.Fprintf(w, ", sign-ins %d, %.0f/s", r.SignIns, r.SignInsPerSecond())
	}
	fmt.Fprintf(w, "\n  latency    p50 %s, p90 %s, p99 %s, max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "  status     %s (not 2xx: %d)\n", r.StatusText(), r.Errors())
	if r.SessionsLost > 0 {
		fmt.Fprintf(w, "  sessions lost (refresh refused) %d\n", r.SessionsLost)
	}
	fmt.Fprintf(w, "  CPU        server %s (%s/request), load tool %s, PostgreSQL %s\n",
		secs(r.ServerCPU), micros(r.CPUPerRequest(r.ServerCPU)), secs(r.LoadCPU), secs(r.PostgresCPU))
	if r.ServerRSS > 0 {
		fmt.Fprintf(w, "  server RSS %.1f MB at the end, at most %.1f MB during the run (%.1f MB since it started)\n",
			float64(r.ServerRSS)/1e6, float64(r.ServerMaxRSS)/1e6, float64(r.ServerPeak)/1e6)
	}
	if len(r.Routes) > 1 {
		for _, rt := range r.Routes {
			fmt.Fprintf(w, "  %-26s %7d requests, p50 %s, p99 %s\n", rt.Name, rt.Requests, ms(rt.P50), ms(rt.P99))
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func secs(s float64) string {
	if s < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.2f s", s)
}

func micros(us float64) string {
	if us < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f µs", us)
}
