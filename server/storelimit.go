package server

import (
	"log/slog"
	"path/filepath"

	"github.com/tethermq/tether/server/internal/admin"
	"github.com/tethermq/tether/server/internal/store"
)

// defaultStoreUsage is ActiveMQ's default store limit.
const defaultStoreUsage = 100 << 30

// storeLimit is the storeUsage in force: the configured one, or 100 GiB,
// lowered (as ActiveMQ's BrokerService.checkUsageLimit resets it) to 90%
// of what the filesystem can give the store: its free space plus what the
// store already occupies. A configured limit larger than that is kept but
// warned about, since the disk will fill first (and the broker then
// refuses persistent sends at once instead of making producers wait).
func storeLimit(cfg Config, u store.Usage, log *slog.Logger) int64 {
	if cfg.jdbc() != nil { // the database's disk is not ours to measure
		if cfg.StoreUsage > 0 {
			return int64(cfg.StoreUsage)
		}
		return defaultStoreUsage
	}
	dir := filepath.Join(cfg.DataDirectory, "journal")
	avail, err := diskAvailable(dir)
	if err != nil {
		log.Warn("cannot read the data directory's free space; storeUsage not adjusted", "dir", dir, "err", err)
		if cfg.StoreUsage > 0 {
			return int64(cfg.StoreUsage)
		}
		return defaultStoreUsage
	}
	usable := (avail + u.DiskBytes) * 9 / 10
	if cfg.StoreUsage > 0 {
		if int64(cfg.StoreUsage) > usable {
			log.Warn("storeUsage is larger than the space the data directory has left",
				"storeUsage", int64(cfg.StoreUsage), "usable", usable, "dir", dir)
		}
		return int64(cfg.StoreUsage)
	}
	if usable < defaultStoreUsage {
		log.Info("storeUsage set to 90% of the data directory's usable space (less than the 100 GiB default)",
			"storeUsage", usable, "dir", dir)
		return usable
	}
	return defaultStoreUsage
}

// StoreStatus is the store's state for the admin API.
type StoreStatus = admin.StoreStatus

func (s *Server) storeStatus() StoreStatus {
	s.mu.Lock()
	st, b, limit := s.st, s.b, s.storeLimit
	s.mu.Unlock()
	if b == nil || st == nil {
		return StoreStatus{} // not master (any more)
	}
	out := StoreStatus{StoreUsageLimit: limit, MemoryLimit: b.MemoryLimit(), MemoryBytes: b.MemoryUsage()}
	u := st.Usage()
	out.DiskBytes, out.LiveBytes, out.NoSpace = u.DiskBytes, u.LiveBytes, u.NoSpace
	if j, ok := st.(*store.Journal); ok {
		js := j.Stats()
		out.RecordsReplayed, out.IndexRebuilt, out.Checkpoints = js.RecordsReplayed, js.Rebuilt, js.Checkpoints
		out.SegmentsRelocated, out.BytesRelocated, out.SegmentsRemoved = js.SegmentsRelocated, js.BytesRelocated, js.SegmentsRemoved
		for _, f := range j.Files() {
			out.Files = append(out.Files, admin.StoreFile{ID: f.ID, Size: f.Size, LiveKeys: f.LiveKeys, LiveBytes: f.LiveBytes, Active: f.Active})
		}
	}
	return out
}
