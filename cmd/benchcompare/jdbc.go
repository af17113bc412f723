package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tethermq/tether/internal/pgtest"
)

// The JDBC set (--jdbc): persistent (b) and (c), and failover with a 1 s
// database lease, with refbroker on persistenceAdapter.jdbc and ActiveMQ on
// <jdbcPersistenceAdapter>, both storing in one throwaway PostgreSQL
// cluster (a database each), started here with initdb and pg_ctl
// (internal/pgtest) on a loopback port below 32768. Its report is
// docs/benchmarks-jdbc.md, so that docs/benchmarks.md stays the file
// stores' comparison.

// The lease both kinds of pair run with in the failover measurement: a
// 1 s lease renewed every 250 ms. refbroker's lease is
// lockAcquireSleepInterval, raised to twice lockKeepAlivePeriod, so a 1 s
// lease needs a keep-alive of at most 500 ms; ActiveMQ's lease-database-
// locker also leases for lockAcquireSleepInterval and warns when the
// keep-alive is not shorter.
const (
	jdbcLease     = time.Second
	jdbcKeepAlive = 250 * time.Millisecond
)

// jdbcInfo is what the report says about the database side.
type jdbcInfo struct {
	postgres string // server version
	driver   string // libpostgresql-jdbc-java's version
	lease    time.Duration
	keep     time.Duration
}

// compareJDBC is the whole --jdbc run.
func compareJDBC(ctx context.Context, cfg *config, work string, rep *report, log *slog.Logger) error {
	bins, err := build(ctx, cfg.root, filepath.Join(work, "bin"))
	if err != nil {
		return err
	}
	rep.env = describeEnvironment(ctx, work)
	if err := measureDisk(ctx, work, rep, log); err != nil {
		return err
	}
	if _, err := os.Stat(postgresJDBCJar); err != nil {
		return fmt.Errorf("ActiveMQ's JDBC store needs Debian's libpostgresql-jdbc-java (apt-get install -y libpostgresql-jdbc-java): %w", err)
	}
	pg, err := pgtest.New()
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer pg.Close()
	info := &jdbcInfo{lease: jdbcLease, keep: jdbcKeepAlive, driver: debianVersion(ctx, "libpostgresql-jdbc-java")}
	if info.postgres, err = pg.ServerVersion(ctx); err != nil {
		return err
	}
	rep.jdbc = info
	log.Info("PostgreSQL", "version", info.postgres, "port", pg.Port, "dir", pg.Dir)

	ports := newPortPicker()
	if cfg.workloads != "none" {
		if err := runJDBCWorkloads(ctx, cfg, bins, work, pg, ports, rep, log); err != nil {
			return err
		}
	}
	if cfg.failover {
		if err := runJDBCFailovers(ctx, cfg, bins, work, pg, ports, rep, log); err != nil {
			return err
		}
	}
	if err := measureDisk(ctx, work, rep, log); err != nil {
		return err
	}
	rep.elapsed = time.Since(rep.started)
	return writeReport(cfg.out, rep)
}

// jdbcDatabase creates database name in pg and describes it for both kinds
// of broker: refbroker's config file (written into work) and ActiveMQ's
// data source.
func jdbcDatabase(ctx context.Context, pg *pgtest.Cluster, work, name string) (refConfig string, amq *amqJDBC, err error) {
	url, err := pg.CreateDatabase(ctx, name)
	if err != nil {
		return "", nil, err
	}
	refConfig = filepath.Join(work, name+".yaml")
	yaml := fmt.Sprintf("persistenceAdapter:\n  jdbc:\n    url: %s\n    lockKeepAlivePeriod: %s\n    lockAcquireSleepInterval: %s\n",
		url, jdbcKeepAlive, jdbcLease)
	if err := os.WriteFile(refConfig, []byte(yaml), 0o644); err != nil {
		return "", nil, err
	}
	amq = &amqJDBC{host: "127.0.0.1", port: pg.Port, database: name, user: pgtest.User, password: pgtest.Password,
		keepAliveMS: int(jdbcKeepAlive.Milliseconds()), acquireMS: int(jdbcLease.Milliseconds())}
	return refConfig, amq, nil
}

// jdbcWorkloads are (b) and (c), exactly as in the file-store comparison.
func jdbcWorkloads(quick bool) []workload {
	return selectWorkloads(workloads(quick), "b,c")
}

// runJDBCWorkloads runs (b) and (c) against one refbroker and one
// ActiveMQ, each storing in its own database of pg.
func runJDBCWorkloads(ctx context.Context, cfg *config, bins binaries, work string, pg *pgtest.Cluster, ports *portPicker, rep *report, log *slog.Logger) error {
	refConfig, _, err := jdbcDatabase(ctx, pg, work, "ref_bench")
	if err != nil {
		return err
	}
	_, amqStore, err := jdbcDatabase(ctx, pg, work, "amq_bench")
	if err != nil {
		return err
	}
	rbPort, err := ports.next()
	if err != nil {
		return err
	}
	amqPort, err := ports.next()
	if err != nil {
		return err
	}
	rb := &refbrokerProc{bin: bins.refbroker, name: "bench-ref-jdbc", port: rbPort, extraArgs: []string{"--config", refConfig},
		dataDir: filepath.Join(work, "ref-jdbc"), logPath: filepath.Join(work, "ref-jdbc.log")}
	amq := &activemqProc{runRoot: filepath.Join(work, "amq-run"), name: "bench-amq-jdbc", port: amqPort,
		scripts: cfg.scripts, jdbc: amqStore}
	pgPid, err := pg.Pid()
	if err != nil {
		return err
	}
	// Both brokers' databases are served by the same server, measured
	// while one broker at a time is under load.
	dbCPU := func() (time.Duration, error) { return treeCPU(pgPid) }
	targets := []target{{name: nameRef, b: rb, dbCPU: dbCPU}, {name: nameAMQ, b: amq, dbCPU: dbCPU}}
	for _, t := range targets {
		defer func() { _ = t.b.Stop() }()
		if err := t.b.Start(ctx); err != nil {
			return err
		}
		log.Info("started", "broker", t.name, "store", "PostgreSQL", "uri", t.uri(), "pid", t.b.Pid())
	}
	rep.activemq = amq.version()
	rep.workloads = jdbcWorkloads(cfg.quick)
	return runRounds(ctx, cfg, bins.tether, targets, rep, func() error { return nil }, log)
}

// runJDBCFailovers times kill -9 of the master of a refbroker pair and of
// an ActiveMQ pair, each pair on its own database, both with the 1 s lease.
func runJDBCFailovers(ctx context.Context, cfg *config, bins binaries, work string, pg *pgtest.Cluster, ports *portPicker, rep *report, log *slog.Logger) error {
	refConfig, _, err := jdbcDatabase(ctx, pg, work, "ref_failover")
	if err != nil {
		return err
	}
	_, amqStore, err := jdbcDatabase(ctx, pg, work, "amq_failover")
	if err != nil {
		return err
	}
	lock := fmt.Sprintf("database lease %v, renewed every %v", jdbcLease, jdbcKeepAlive)
	type spec struct {
		label   string
		members func() ([2]broker, error)
	}
	specs := []spec{
		{nameRef, func() ([2]broker, error) {
			var ms [2]broker
			for i := range ms {
				port, err := ports.next()
				if err != nil {
					return ms, err
				}
				name := fmt.Sprintf("ref-jdbc-pair-%d", i+1)
				ms[i] = &refbrokerProc{bin: bins.refbroker, name: name, port: port, extraArgs: []string{"--config", refConfig},
					dataDir: filepath.Join(work, name), logPath: filepath.Join(work, name+".log")}
			}
			return ms, nil
		}},
		{nameAMQ, func() ([2]broker, error) {
			var ms [2]broker
			for i := range ms {
				port, err := ports.next()
				if err != nil {
					return ms, err
				}
				ms[i] = &activemqProc{runRoot: filepath.Join(work, "amq-run"), name: fmt.Sprintf("amq-jdbc-pair-%d", i+1),
					port: port, scripts: cfg.scripts, jdbc: amqStore}
			}
			return ms, nil
		}},
	}
	for _, s := range specs {
		ms, err := s.members()
		if err != nil {
			return err
		}
		// Both slaves retry every lease; the kills are spread over that
		// cycle, as a master dies at any moment of it.
		res, err := measureFailover(ctx, failoverSetup{label: s.label + ", " + lock, members: ms, kills: cfg.kills, pollInterval: jdbcLease}, log)
		if err != nil {
			rep.problem("failover %s, %s: %v", s.label, lock, err)
		}
		rep.failovers = append(rep.failovers, failoverRow{broker: s.label, lock: lock, planned: cfg.kills, times: res.times})
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// debianVersion is an installed Debian package's version ("" if unknown).
func debianVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
