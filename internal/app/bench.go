package app

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/internal/loadgen"
)

// benchOptions are the flags of `agency bench`.
type benchOptions struct {
	url, smsListen string
	duration       time.Duration
	concurrency    []int
	rate, users    int
	serverPID      int
	allowRemote    bool
	cpuProfile     string
}

func (a *cli) benchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [scenario...]",
		Short: "Load a running server over HTTP and report rate, latency, errors and CPU",
		Long: `Drives a running server from this process with the scenarios
  me            GET /v1/me with the access tokens of many users
  refresh       token rotation, each refresh token used exactly once
  verify        OTP send + verify of new numbers (sign-ins), closed loop
  signin-storm  first sign-ins of new users at --rate sign-ins per second
  mixed         80% me, 15% refresh, 5% sign-in requests
(all of them by default) and prints, for each, requests per second,
p50/p90/p99 latency, answers by status, and the CPU seconds spent by the
server, by this tool and (when local) by PostgreSQL.

The tool signs its users in itself, through the API: start the server with
  SMS_PROVIDER=webhook SMS_WEBHOOK_URL=http://127.0.0.1:8089/sms
so its codes reach this tool (--sms-listen), with OTP_MAX_SENDS_PER_IP_PER_HOUR
and OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR raised for the run and an
ACCESS_TOKEN_TTL longer than the run. A target off this machine's loopback
is refused unless --allow-remote. ` + "`make bench`" + ` starts a server and runs everything.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runBench(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "server base URL")
	f.StringVar(&o.smsListen, "sms-listen", "127.0.0.1:8089", "address of the SMS webhook the server sends its codes to")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "length of each run")
	f.IntSliceVar(&o.concurrency, "concurrency", []int{16}, "requests in flight (a comma list runs each)")
	f.IntVar(&o.rate, "rate", 0, "requests per second (signin-storm: sign-ins per second; 0: as fast as concurrency allows; signin-storm defaults to 100)")
	f.IntVar(&o.users, "users", 500, "users to sign in before the runs")
	f.IntVar(&o.serverPID, "server-pid", 0, "the server's process id, for its CPU and memory (default: the process listening on the URL's port)")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a target off this machine's loopback")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this load tool to this file (to see what the load itself costs)")
	cmd.AddCommand(a.benchSuiteCmd())
	return cmd
}

// oneProcessor runs the load tool on one processor unless GOMAXPROCS says
// otherwise: sharing the machine with the server and PostgreSQL, its Go
// scheduler then hands requests between threads less often (measured here:
// 95 instead of 150 µs of CPU per request, and 17% more who-am-I/s).
func (a *cli) oneProcessor() {
	if _, set := config.ParseEnv(a.env)["GOMAXPROCS"]; !set {
		runtime.GOMAXPROCS(1)
	}
}

func (a *cli) runBench(cmd *cobra.Command, scenarios []string, o benchOptions) error {
	a.oneProcessor()
	if len(scenarios) == 0 {
		scenarios = loadgen.Scenarios
	}
	box, err := loadgen.ListenSMS(o.smsListen)
	if err != nil {
		return err
	}
	defer box.Close()
	b, err := loadgen.New(loadgen.Target{URL: o.url, AllowRemote: o.allowRemote, ServerPID: o.serverPID, SMS: box, Progress: a.stderr})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(a.stderr, "signing %d users in\n", o.users)
	if err := b.Prepare(ctx, o.users, 16); err != nil {
		return err
	}
	for _, c := range o.concurrency {
		for _, s := range scenarios {
			l := loadgen.Load{Duration: o.duration, Concurrency: c, Rate: o.rate}
			if s == loadgen.ScenarioSignInStorm && l.Rate == 0 {
				l.Rate = 100
			}
			r, err := b.Run(ctx, s, l)
			if err != nil {
				return err
			}
			r.Write(a.stdout)
		}
	}
	return nil
}

func (a *cli) benchSuiteCmd() *cobra.Command {
	s := loadgen.Suite{Log: a.stderr}
	cmd := &cobra.Command{
		Use:   "suite",
		Short: "Start agency serve on a fresh PostgreSQL database, run every scenario and the pgbench ceilings, write the results",
		Long: `What make bench runs: creates a database on --database-url's server, starts
agency serve on it (production settings, codes to this tool's SMS webhook),
signs --users users in, and at each --concurrency runs pgbench with the hot
paths' SQL (the ceiling PostgreSQL itself allows, run right before each
scenario) and every scenario. Writes the figures, ratios and targets
between the generated markers of --out (bench/results.md), keeping the
hand-written text around them; drops the database at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.oneProcessor()
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.AdminURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create the bench database on")
	f.StringVar(&s.Binary, "binary", "", "agency executable to serve (default: this one)")
	f.DurationVar(&s.Duration, "duration", 10*time.Second, "length of each run")
	f.IntSliceVar(&s.Concurrency, "concurrency", []int{16, 64}, "concurrencies to run each scenario at")
	f.IntVar(&s.Users, "users", 1000, "users to sign in before the runs")
	f.IntVar(&s.SignInRate, "signin-rate", 200, "signin-storm's rate, sign-ins per second")
	f.StringSliceVar(&s.Scenarios, "scenarios", nil, "scenarios to run (default: all)")
	f.StringVar(&s.Out, "out", "bench/results.md", "results file (empty: none)")
	f.StringVar(&s.Profile, "profile", "", "write a CPU profile of the server during the first scenario to this file")
	f.StringArrayVar(&s.ServerEnv, "server-env", nil, "KEY=VALUE added to the server's environment (repeatable), e.g. DB_MAX_OPEN_CONNS=20")
	return cmd
}
