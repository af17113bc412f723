package mqtt

import (
	"errors"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{Authenticate: func(user, pass string) error {
		if user == "alice" && pass == "secret" {
			return nil
		}
		return errors.New("unknown user or wrong password")
	}})
	good := e.client(t, "alice-1", true, func(o *paho.ClientOptions) { o.SetUsername("alice").SetPassword("secret") })
	in := newInbox()
	waitToken(t, good.Subscribe("auth/t", 1, in.handler))
	waitToken(t, good.Publish("auth/t", 1, false, "ok"))
	if m := in.next(t); string(m.Payload()) != "ok" {
		t.Fatalf("got %q", m.Payload())
	}

	for name, cred := range map[string][2]string{"wrong password": {"alice", "nope"}, "anonymous": {"", ""}} {
		o := paho.NewClientOptions().AddBroker("tcp://" + e.addr).SetClientID("intruder").
			SetAutoReconnect(false).SetConnectTimeout(waitFor).SetUsername(cred[0]).SetPassword(cred[1])
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("%s: connect did not finish", name)
		}
		if tok.Error() == nil {
			c.Disconnect(0)
			t.Fatalf("%s: connected", name)
		}
	}

	r := dialRaw(t, e.addr)
	cp := connectPacket("intruder", true, 30)
	cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = true, "alice", true, []byte("nope")
	if ack := r.connect(cp); ack.ReturnCode != packets.ErrRefusedBadUsernameOrPassword {
		t.Fatalf("CONNACK %d, want %d", ack.ReturnCode, packets.ErrRefusedBadUsernameOrPassword)
	}
	r.expectClosed(waitFor)
}
