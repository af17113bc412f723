package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// environment describes the machine a run measured, for the report.
type environment struct {
	CPUs     int
	CPUModel string
	Kernel   string
	Go       string
	Java     string
	ActiveMQ string
	Disk     string // filesystem and device of the data directories
}

func describeEnvironment(ctx context.Context, dataDir string) environment {
	env := environment{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	env.CPUModel = firstMatch("/proc/cpuinfo", "model name")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, "java", "-version").CombinedOutput(); err == nil {
		env.Java, _, _ = strings.Cut(string(out), "\n")
	}
	if out, err := exec.CommandContext(ctx, "df", "--output=source,fstype", dataDir).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		env.Disk = strings.Join(strings.Fields(lines[len(lines)-1]), " ")
	}
	return env
}

// firstMatch returns the value of the first "key : value" line of path.
func firstMatch(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
