// Command tether is a command-line client for ActiveMQ-style brokers, built
// on the tether SDK: it takes any URI client.Dial takes (failover:(...),
// tcp://, stomp://, amqp://, mqtt://), so it works against tether's
// refbroker and against ActiveMQ alike.
//
//	tether send    [flags] DEST [BODY]   send messages
//	tether receive [flags] DEST          receive, print or count messages
//	tether bench   [flags]               measure throughput and latency
//	tether admin   [flags] COMMAND       a refbroker's admin API: queues, purge, DLQ moves
//
// It owns flag parsing, output formatting and the benchmark's workload; the
// wire, reconnecting and de-duplicating are the SDK's. Exit status: 0 on
// success, 1 when the broker work failed, 2 for a bad command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// env is what a subcommand may touch: its streams and whether stderr is a
// terminal (for the progress bar). Tests substitute buffers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stderrTTY      bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stderrTTY: isTerminal(os.Stderr)})
	stop()
	os.Exit(code)
}

const usageText = `usage: tether COMMAND [flags]

commands:
  send     send messages:                tether send --uri URI DEST [BODY]
  receive  receive and print or count:   tether receive --uri URI DEST
  bench    throughput and latency:       tether bench --uri URI [scenario flags]
  admin    a refbroker's admin API:      tether admin --url http://HOST:8161 queues|browse|purge|move-dlq ...

URI is anything the tether SDK dials, e.g. stomp://127.0.0.1:61613 or
failover:(tcp://a:61616,tcp://b:61616)?randomize=false. DEST is queue://X,
topic://X, or X for a queue. "tether COMMAND -h" lists a command's flags.
`

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usageText)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "send":
		err = runSend(ctx, args[1:], e)
	case "receive", "recv":
		err = runReceive(ctx, args[1:], e)
	case "bench":
		err = runBench(ctx, args[1:], e)
	case "admin":
		err = runAdmin(ctx, args[1:], e)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "tether: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	return exitStatus(err, e.stderr)
}

// usageError is a bad command line: reported with exit status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelp means -h was given and the flag set already printed its usage.
var errHelp = errors.New("help requested")

// exitStatus reports err on stderr and maps it to an exit status.
func exitStatus(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tether: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "tether: %v\n", err)
		return exitFailed
	}
}
