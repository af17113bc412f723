package admin

import (
	"log/slog"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/network"
)

// Source is what the admin Handler reads from the server. Every function
// may be called concurrently; Broker returns nil while the broker is not
// master (slave, starting, stopped).
type Source struct {
	Name       string
	Broker     func() *broker.Broker
	Role       func() string
	Store      func() StoreStatus // called only while Broker is not nil
	Bridges    func() []network.BridgeInfo
	Connectors func() []ConnectorInfo
	Logger     *slog.Logger
}

// ConnectorInfo is a transport connector as configured and bound.
type ConnectorInfo struct {
	Name    string `json:"name"`
	URI     string `json:"uri"`
	Address string `json:"address,omitempty"` // where it listens ("" on a slave)
}

// StoreStatus is the store's and the memory's state.
type StoreStatus struct {
	DiskBytes         int64 `json:"diskBytes"`
	LiveBytes         int64 `json:"liveBytes"`
	StoreUsageLimit   int64 `json:"storeUsageLimit"`
	NoSpace           bool  `json:"noSpace"`
	MemoryBytes       int64 `json:"memoryBytes"`
	MemoryLimit       int64 `json:"memoryLimit"`
	RecordsReplayed   int64 `json:"recordsReplayedAtStart"`
	IndexRebuilt      bool  `json:"indexRebuiltAtStart"`
	Checkpoints       int64 `json:"checkpoints"`
	SegmentsRelocated int64 `json:"segmentsCompacted"`
	BytesRelocated    int64 `json:"bytesCompacted"`
	SegmentsRemoved   int64 `json:"segmentsRemoved"`
	// Files are the journal's files, oldest first, with what keeps each:
	// the live keys in it (a file goes once none is left).
	Files []StoreFile `json:"files,omitempty"`
}

// StoreFile is one journal file.
type StoreFile struct {
	ID        uint64 `json:"id"`
	Size      int64  `json:"size"`
	LiveKeys  int    `json:"liveKeys"`
	LiveBytes int64  `json:"liveBytes"`
	Active    bool   `json:"active,omitempty"`
}

// BridgeView is a network bridge for the API.
type BridgeView struct {
	Link      string     `json:"link"`
	Remote    string     `json:"remote,omitempty"`
	State     string     `json:"state"` // "up" or "connecting"
	Since     *time.Time `json:"since,omitempty"`
	Forwarded uint64     `json:"forwarded"`
}

func bridgeViews(bs []network.BridgeInfo) []BridgeView {
	out := make([]BridgeView, 0, len(bs))
	for _, b := range bs {
		v := BridgeView{Link: b.Link, Remote: b.Remote, State: "connecting", Forwarded: b.Forwarded}
		if b.Remote != "" {
			v.State = "up"
			since := b.Since
			v.Since = &since
		}
		out = append(out, v)
	}
	return out
}
