package wire

import (
	"bytes"
	"runtime"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to every entry point of the decoder: a
// single value, a frame body of either type, a message, and a whole frame.
// None may panic; a value that decodes must re-encode to bytes that decode
// to the same encoding again. The seed corpus in testdata/fuzz/FuzzDecode
// (frames of every kind, messages, hostile lengths) runs with go test.
func FuzzDecode(f *testing.F) {
	f.Add(AppendFrame(nil, 0, &Open{ContainerID: "seed"}, nil))
	f.Add([]byte{0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40})
	f.Add(AppendFrame(nil, 0, &Attach{Name: "c", Role: RoleSender, Source: &Source{}, Coordinator: &Coordinator{}}, nil))
	f.Add(AppendFrame(nil, 0, &Disposition{First: 1, State: &TransactionalState{TxnID: []byte{1}, Outcome: Accepted{}}}, nil))
	f.Add(AppendDischarge(nil, &Discharge{TxnID: []byte{1}, Fail: true}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, _, err := Decode(data); err == nil {
			// The re-encoding may be shorter (compact forms), so it gets the
			// original's value budget: the budget limits resources, it does
			// not define validity.
			enc := AppendValue(nil, v)
			v2, n, err := decodeBudget(enc, max(len(enc), len(data)))
			if err != nil || n != len(enc) {
				t.Fatalf("re-encoded value % x does not decode: %v (used %d bytes)", enc, err, n)
			}
			if enc2 := AppendValue(nil, v2); !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding unstable:\n% x\n% x", enc, enc2)
			}
		}
		_, _, _ = ParseBody(FrameAMQP, data)
		_, _, _ = ParseBody(FrameSASL, data)
		if m, err := DecodeMessage(data); err == nil {
			if _, err := decodeMessage(AppendMessage(nil, m), len(data)); err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
		}
		_, _ = ReadFrame(bytes.NewReader(data), 1<<16)
		if v, _, err := Decode(data); err == nil {
			_, _ = DecodeTxnControl(v)
		}
	})
}

// Decoding hostile input allocates a bounded multiple of the input size,
// however large the lengths and counts it claims.
func TestDecodeAllocationBounded(t *testing.T) {
	hostile := [][]byte{
		{0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40},       // array32 of nulls, 4G elements
		{0xd0, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0x41, 0x41}, // list32 claiming 4G elements
		{0xd1, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff, 0xfe}, // map32 claiming 4 GiB
		{0xb0, 0xff, 0xff, 0xff, 0xff},                         // binary claiming 4 GiB
		append([]byte{0xe0, 0xff, 0xff, 0x40}, make([]byte, 252)...),
		bytes.Repeat([]byte{0xe0, 0x03, 0xff, 0xe0}, 64),
	}
	for _, in := range hostile {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 10 {
			_, _, _ = Decode(in)
			_, _ = DecodeMessage(in)
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / 10
		if limit := uint64(64*len(in) + 4096); perRun > limit {
			t.Errorf("decoding % x allocated %d bytes per run, limit %d", in[:min(len(in), 12)], perRun, limit)
		}
	}
}
