//go:build unix

package server

import "syscall"

// diskAvailable is the space an unprivileged writer can still use in dir.
func diskAvailable(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
