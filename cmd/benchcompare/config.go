package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// config is the command line.
type config struct {
	quick          bool
	root           string // the repository
	scripts        string // ActiveMQ's start.sh and stop.sh
	out            string // the report
	workDir        string // "" = a fresh temporary directory
	keep           bool
	rounds         int
	kills          int // refbroker pairs and ActiveMQ at 200 ms
	amqDefaultKill int // ActiveMQ at its default 10 s lock interval
	failover       bool
	backlog        bool
	jdbc           bool   // the JDBC set alone (jdbc.go), into docs/benchmarks-jdbc.md
	workloads      string // comma-separated ids of (a)-(d) to run; "" = all, "none" = none
	timeout        time.Duration
	args           []string // as given, for the report
}

var errUsage = errors.New("usage")

func parseConfig(args []string, stderr io.Writer) (*config, error) {
	c := &config{args: args}
	fs := flag.NewFlagSet("benchcompare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: go run ./cmd/benchcompare [flags]\n\n"+
			"Starts refbroker and ActiveMQ 5.17, runs the same scenarios against both over\n"+
			"STOMP, measures failover and memory, and writes docs/benchmarks.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.BoolVar(&c.quick, "quick", false, "a short run (about 2 minutes here): fewer rounds, messages and kills")
	fs.StringVar(&c.root, "repo", "", "the tether repository (default: found from the working directory)")
	fs.StringVar(&c.scripts, "activemq-scripts", "", "directory of ActiveMQ's start.sh and stop.sh (default: REPO/../shared/activemq)")
	fs.StringVar(&c.out, "out", "", "report to write (default: REPO/docs/benchmarks.md; '-' for stdout)")
	fs.StringVar(&c.workDir, "workdir", "", "where brokers keep data and logs (default: a fresh directory under $TMPDIR, removed at the end)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (broker logs) at the end")
	fs.IntVar(&c.rounds, "rounds", 0, "measured rounds of every scenario per broker; the report gives medians (default 5, --quick 2)")
	fs.IntVar(&c.kills, "kills", 0, "kill -9 per refbroker pair and for ActiveMQ at 200 ms (default 10, --quick 3)")
	fs.IntVar(&c.amqDefaultKill, "activemq-default-kills", 0, "kill -9 for ActiveMQ at its default 10 s lock interval (default 3, --quick 1)")
	fs.BoolVar(&c.failover, "failover", true, "measure failover (e)")
	fs.BoolVar(&c.backlog, "backlog", true, "measure (g): a 1.2 GB persistent backlog (120 MB with --quick), a kill -9 under it, the drain")
	fs.BoolVar(&c.jdbc, "jdbc", false, "run only the JDBC set: (b), (c) and failover with both brokers storing in one throwaway PostgreSQL; writes docs/benchmarks-jdbc.md")
	fs.StringVar(&c.workloads, "workloads", "", "only these scenarios of (a)-(d), comma-separated ids (e.g. b,c), or none")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up after this long (default 40m, --quick or --jdbc 15m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchcompare: unexpected argument %q\n", fs.Arg(0))
		return nil, errUsage
	}
	c.defaults()
	if c.rounds < 1 || c.kills < 1 || c.amqDefaultKill < 1 || c.timeout <= 0 {
		fmt.Fprintln(stderr, "benchcompare: --rounds, --kills, --activemq-default-kills and --timeout must be positive")
		return nil, errUsage
	}
	if c.root == "" {
		root, err := findRepo()
		if err != nil {
			fmt.Fprintf(stderr, "benchcompare: %v (give --repo)\n", err)
			return nil, errUsage
		}
		c.root = root
	}
	if c.scripts == "" {
		c.scripts = filepath.Join(c.root, "..", "shared", "activemq")
	}
	if _, err := os.Stat(filepath.Join(c.scripts, "start.sh")); err != nil {
		fmt.Fprintf(stderr, "benchcompare: ActiveMQ scripts: %v (give --activemq-scripts)\n", err)
		return nil, errUsage
	}
	if c.out == "" {
		c.out = filepath.Join(c.root, "docs", "benchmarks.md")
		if c.jdbc {
			c.out = filepath.Join(c.root, "docs", "benchmarks-jdbc.md")
		}
	}
	return c, nil
}

// defaults fills what the flags left at zero, by mode.
func (c *config) defaults() {
	pick := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if c.quick {
				*v = quick
			}
		}
	}
	pick(&c.rounds, 5, 2)
	pick(&c.kills, 10, 3)
	pick(&c.amqDefaultKill, 3, 1)
	if c.timeout == 0 {
		c.timeout = 40 * time.Minute
		if c.quick || c.jdbc {
			c.timeout = 15 * time.Minute
		}
	}
}

// findRepo walks up from the working directory to tether's go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(mod), "module github.com/tethermq/tether\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the tether repository")
		}
		dir = parent
	}
}
