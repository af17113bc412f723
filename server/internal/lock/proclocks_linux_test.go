package lock

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// blockedWaiters counts this process's flock requests that the kernel shows
// as blocked ("->" in /proc/locks) on the file now at path.
func blockedWaiters(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	f, err := os.Open("/proc/locks")
	if err != nil {
		t.Fatalf("open /proc/locks: %v", err)
	}
	defer f.Close()
	pid := strconv.Itoa(os.Getpid())
	suffix := ":" + strconv.FormatUint(ino, 10)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: -> FLOCK  ADVISORY  WRITE 10819 fe:00:9982181 0 EOF"
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 || fields[1] != "->" || fields[2] != "FLOCK" {
			continue
		}
		if fields[5] == pid && strings.HasSuffix(fields[6], suffix) {
			n++
		}
	}
	return n
}
