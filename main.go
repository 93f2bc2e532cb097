// Command agency is the identity and session service of the Agency
// Platform: `agency serve` runs it, the other commands operate it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agency:", err)
		stop()
		os.Exit(1)
	}
}

// run executes one command line. Everything the program touches of the
// outside world is passed in, so tests call it like main does.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	root := newRootCmd(env, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
