package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every architecture Go supports (it is fixed in
// the kernel's ABI, independent of CONFIG_HZ).
const clockTick = 10 * time.Millisecond

// cpuTime returns the CPU time (user + system) pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time of pid %d: %w", pid, err)
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu time of pid %d: malformed stat", pid)
	}
	// After ") ": state is field 3; utime and stime are fields 14 and 15.
	fields := strings.Fields(s[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("cpu time of pid %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cpu time of pid %d: bad utime/stime", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// treeCPU returns the CPU time a server process and its children have used
// so far: its own, that of the children it reaped (cutime, cstime), and
// that of its live children. PostgreSQL runs a process per connection
// under the postmaster, so this is the whole database's CPU; a backend
// that exits moves its time from the live sum to the reaped one.
func treeCPU(root int) (time.Duration, error) {
	own, err := statTimes(root, true)
	if err != nil {
		return 0, err
	}
	total := own
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == root {
			continue
		}
		if ppid, err := parentOf(pid); err == nil && ppid == root {
			t, err := statTimes(pid, true)
			if err == nil { // it may have exited meanwhile
				total += t
			}
		}
	}
	return total, nil
}

// statFields are /proc/PID/stat's fields after the command name, from
// the state (field 3) on.
func statFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("pid %d: short stat", pid)
	}
	return f, nil
}

func parentOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// statTimes is utime + stime, plus cutime + cstime with children.
func statTimes(pid int, children bool) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, fmt.Errorf("cpu time of pid %d: %w", pid, err)
	}
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, x := range f[11 : last+1] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of pid %d: bad stat field %q", pid, x)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
