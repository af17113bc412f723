// Package lock decides which broker of a shared-store pair is master: the one
// that holds an exclusive flock(2) on <dataDirectory>/lock (FileLocker), or,
// for JDBC master/slave on PostgreSQL, the one holding the database lease
// (LeaseLocker, lease.go; what follows is about the FileLocker).
//
// It owns the lock file from open to close: taking the lock, waiting for it
// as a slave, writing who holds it (for humans), and the periodic fencing
// check that tells a master it must stop. It never deletes the lock file,
// never reads its contents to decide anything, never creates the data
// directory (a missing shared mount must not silently become a local
// directory that every broker locks for itself), and never touches any other
// file there: opening the store is the caller's job, after Acquire returns.
//
// Invariants:
//
//   - Acquire reports success only for a lock on the file that is at Dir/lock
//     at that moment (same device and inode). A lock won on a file that was
//     removed or replaced meanwhile is dropped and the wait starts again, so a
//     slave never becomes master on an orphaned inode.
//   - A locker that found the lock held and then won a different file (the
//     path was replaced under the old master) holds it for 2*KeepAlivePeriod
//     before reporting success, so that the old master, which still holds the
//     old file, notices the replacement and stops first (ActiveMQ's AMQ-4705
//     guard). A normal takeover, on the file the old master held, is not
//     delayed.
//   - The file's contents are written only by its holder, after the identity
//     check above; waiting lockers never truncate or write it.
//   - At most one goroutine per FileLocker blocks in flock. flock(2) cannot be
//     interrupted (closing the descriptor does not wake it, and Go installs
//     its signal handlers with SA_RESTART), so when Acquire's context ends the
//     goroutine stays parked, owned by the FileLocker: the next Acquire adopts
//     it, and if none does, it gives the lock back the moment it gets it and
//     exits. Its lifetime is bounded by the current holder's.
//
// The lock is flock(2), not the fcntl(2) record lock that ActiveMQ takes; on
// local filesystems the two do not see each other, so never point an
// ActiveMQ broker and a tether broker at the same data directory.
package lock
