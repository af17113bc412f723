package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// memory is a process's resident set, from /proc/PID/status.
type memory struct {
	RSSKiB  int64 // VmRSS: resident now
	PeakKiB int64 // VmHWM: the highest resident set so far
}

func (m memory) rssMiB() float64  { return float64(m.RSSKiB) / 1024 }
func (m memory) peakMiB() float64 { return float64(m.PeakKiB) / 1024 }

// readMemory reads VmRSS and VmHWM of pid.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSSKiB
		case "VmHWM":
			dst = &m.PeakKiB
		default:
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return memory{}, fmt.Errorf("memory of pid %d: unexpected %s line %q", pid, name, sc.Text())
		}
		if *dst, err = strconv.ParseInt(fields[0], 10, 64); err != nil {
			return memory{}, fmt.Errorf("memory of pid %d: %s: %w", pid, name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return memory{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	if m.RSSKiB == 0 {
		return memory{}, fmt.Errorf("memory of pid %d: no VmRSS (a kernel thread or a zombie?)", pid)
	}
	return m, nil
}
