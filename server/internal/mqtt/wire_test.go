package mqtt

import (
	"net/url"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	in := map[string]byte{"a/#": 1, "b/+/c": 2, "z": 0}
	recs, _, err := decodeRecord(encodeRecord(in, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(in) {
		t.Fatalf("got %v", recs)
	}
	for _, r := range recs {
		if in[r.filter] != r.qos {
			t.Errorf("record %q qos %d, want %d", r.filter, r.qos, in[r.filter])
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1, 1}, {1, 1, 1, 'a', 3}, append(encodeRecord(in, nil), 0)} {
		if _, _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%x) accepted", bad)
		}
	}
}

func TestParseOptions(t *testing.T) {
	q, _ := url.ParseQuery("maximumConnections=10&wireFormat.maxFrameSize=4096&transport.defaultKeepAlive=60000" +
		"&transport.connectAttemptTimeout=5000&transport.activeMQSubscriptionPrefetch=50&transport.soWriteTimeout=2000")
	o, err := ParseOptions(q)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{MaxConnections: 10, MaxFrameSize: 4096, DefaultKeepAlive: time.Minute,
		ConnectTimeout: 5 * time.Second, SubscriptionPrefetch: 50, WriteTimeout: 2 * time.Second}
	if o.MaxConnections != want.MaxConnections || o.MaxFrameSize != want.MaxFrameSize ||
		o.DefaultKeepAlive != want.DefaultKeepAlive || o.ConnectTimeout != want.ConnectTimeout ||
		o.SubscriptionPrefetch != want.SubscriptionPrefetch || o.WriteTimeout != want.WriteTimeout {
		t.Errorf("got %+v, want %+v", o, want)
	}
	for _, bad := range []string{"nope=1", "maximumConnections=-1", "wireFormat.maxFrameSize=0", "transport.defaultKeepAlive=soon"} {
		q, _ := url.ParseQuery(bad)
		if _, err := ParseOptions(q); err == nil {
			t.Errorf("ParseOptions(%s) accepted", bad)
		}
	}
}
