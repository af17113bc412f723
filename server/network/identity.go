package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// IdentityFile holds the network identity in a broker's data directory.
const IdentityFile = "network-identity"

// LoadIdentity returns the network identity kept in dataDir, creating it on
// first use. It belongs to the store, not to a process: both brokers of a
// shared-store master/slave pair read the same one, so duplicate ids of
// forwarded messages and bridge client ids survive a master change. Call it
// only while holding the master lock (a slave must not write there).
func LoadIdentity(dataDir string) (string, error) {
	path := filepath.Join(dataDir, IdentityFile)
	data, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(data))
		if id == "" {
			return "", fmt.Errorf("network identity %s is empty", path)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("network identity: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("network identity: %w", err)
	}
	id := hex.EncodeToString(b[:])
	// Written whole or not at all: a crash must not leave an empty file.
	tmp := path + ".tmp"
	if err := writeSynced(tmp, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("network identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("network identity: %w", err)
	}
	return id, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
