package network

import (
	"testing"

	"github.com/tethermq/tether/server/internal/broker"
)

// A reply-to is kept as its producer wrote it; the bridge reads STOMP's
// spelling and the broker's before handing it to the SDK.
func TestReplyToDestination(t *testing.T) {
	for in, want := range map[string]broker.Destination{
		"/queue/back":     {Kind: broker.Queue, Name: "back"},
		"/topic/news.eu":  {Kind: broker.Topic, Name: "news.eu"},
		"queue://back":    {Kind: broker.Queue, Name: "back"},
		"topic://news":    {Kind: broker.Topic, Name: "news"},
		"back":            {Kind: broker.Queue, Name: "back"},
		"/temp-queue/x.1": {Kind: broker.Queue, Name: "/temp-queue/x.1"},
	} {
		if got, err := replyToDestination(in); err != nil || got != want {
			t.Errorf("replyToDestination(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := replyToDestination("/queue/"); err == nil {
		t.Error("an empty queue name was accepted")
	}
}
