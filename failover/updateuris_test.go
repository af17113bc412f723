package failover

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tethermq/tether/failover/session"
)

func TestUpdateURIsURLIsReadBeforeEveryPass(t *testing.T) {
	list := filepath.Join(t.TempDir(), "brokers.txt")
	if err := os.WriteFile(list, []byte("tcp://b:2, tcp://c:3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	fnet := newFakeNet(clk)
	fnet.setUp("c:3", true)
	c, _ := newTestConn(t, "failover:(tcp://a:1)?randomize=false&reconnectJitter=false&updateURIsURL="+url.QueryEscape("file:"+list), fnet, clk, nil)
	if _, err := runConnect(t, c, clk, true, ""); err != nil {
		t.Fatal(err)
	}
	if got := fnet.attemptHosts(); !slices.Equal(got, []string{"a:1", "b:2", "c:3"}) {
		t.Errorf("attempts %v", got)
	}

	// Changed between passes: the next pass sees the new list.
	if err := os.WriteFile(list, []byte("tcp://d:4"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := c.conn.connectList(context.Background(), nil)
	if len(got) != 2 || got[1].Host != "d:4" {
		t.Errorf("list after the update: %v", got)
	}
}

func TestUpdateURIsOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "tcp://x:9,bogus")
	}))
	defer srv.Close()
	got, err := readURIList(context.Background(), srv.URL, DefaultConnectTimeout)
	if err == nil || len(got) != 1 || got[0].Host != "x:9" {
		t.Errorf("got %v, %v: want x:9 and an error about the bad entry", got, err)
	}
}

// advertising wraps a fake session whose broker names its cluster peers.
type advertising struct {
	*fakeSession
	peers []*url.URL
}

func (a advertising) AdvertisedURIs() []*url.URL { return a.peers }

type advertisingNet struct {
	*fakeNet
	peers []*url.URL
}

func (n advertisingNet) Dial(ctx context.Context, t session.Target) (session.Session, error) {
	s, err := n.fakeNet.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	return advertising{s.(*fakeSession), n.peers}, nil
}

func TestAdvertisedBrokersJoinTheList(t *testing.T) {
	for _, supported := range []bool{true, false} {
		t.Run(fmt.Sprint("updateURIsSupported=", supported), func(t *testing.T) {
			clk := newFakeClock()
			fnet := newFakeNet(clk)
			fnet.setUp("a:1", true)
			peer, _ := url.Parse("tcp://peer:7")
			anet := advertisingNet{fnet, []*url.URL{peer}}
			spec := mustParse(fmt.Sprintf("failover:(tcp://a:1)?randomize=false&updateURIsSupported=%v", supported))
			c := newConn(spec, Config{Dialer: anet, Clock: clk})
			t.Cleanup(func() { c.stop(); c.events.close() })
			if _, _, err := c.conn.connect(context.Background(), true, nil); err != nil {
				t.Fatal(err)
			}
			list := c.conn.connectList(context.Background(), nil)
			if has := containsBroker(list, peer); has != supported {
				t.Errorf("advertised broker in the list: %v, want %v (%v)", has, supported, list)
			}
		})
	}
}
