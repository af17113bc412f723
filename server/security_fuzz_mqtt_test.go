package server

import (
	"bufio"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// The MQTT half of the fuzz: random CONNECT (with or without credentials),
// SUBSCRIBE and PUBLISH (QoS 0-2, sometimes retained) packets, pipelined.

var (
	fuzzMQTTTopics  = []string{"orders/eu", "orders/us", "orders", "open/t", "open/u/v", "billing/t", "ActiveMQ/Advisory/x"}
	fuzzMQTTFilters = append([]string{"orders/#", "orders/+", "#", "+/eu", "open/#", "billing/+"}, fuzzMQTTTopics...)
)

// mqttToSTOMP names an MQTT topic as the oracle does (ActiveMQ's name).
func mqttToSTOMP(topic string) string {
	return "/topic/" + strings.NewReplacer("/", ".", "+", "*", "#", ">").Replace(topic)
}

func fuzzMQTTConnection(t *testing.T, addr string, rng *rand.Rand, log *fuzzLog, next *atomic.Int64) {
	cred := fuzzCreds[rng.IntN(len(fuzzCreds))]
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return
	}
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	valid := "refused"
	if cred.valid {
		valid = "valid"
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(nc)
		for {
			p, err := packets.ReadPacket(r)
			if err != nil {
				return
			}
			switch p := p.(type) {
			case *packets.ConnackPacket:
				if p.ReturnCode == packets.Accepted && !cred.valid {
					log.violate("MQTT login %q/%q accepted", cred.user, cred.pass)
				}
				if p.ReturnCode != packets.Accepted {
					log.mu.Lock()
					log.loginRefused++
					log.mu.Unlock()
				}
			case *packets.SubackPacket:
				for _, code := range p.ReturnCodes {
					if code == 0x80 {
						log.mu.Lock()
						log.refused++
						log.mu.Unlock()
					}
				}
			case *packets.PublishPacket:
				dest := mqttToSTOMP(p.TopicName)
				if !cred.valid || !fuzzAllowed(cred.user, false, dest) {
					log.violate("MQTT %q (%s login) received on %s, which it may not read", cred.user, valid, dest)
				}
				where := "delivered over MQTT to " + cred.user
				if p.Retain {
					where = "retained, delivered over MQTT to " + cred.user
				}
				log.checkMessage(where, dest, string(p.Payload))
				log.mu.Lock()
				log.delivered++
				log.mu.Unlock()
			}
		}
	}()
	defer func() {
		nc.Close()
		<-done
	}()
	write := func(p packets.ControlPacket) bool {
		log.sent.Add(1)
		return p.Write(nc) == nil
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion, cp.CleanSession, cp.Keepalive = "MQTT", 4, true, 30
	cp.ClientIdentifier = "fuzz-" + strconv.FormatInt(next.Add(1), 10)
	if cred.user != "" {
		cp.UsernameFlag, cp.Username = true, cred.user
		cp.PasswordFlag, cp.Password = true, []byte(cred.pass)
	}
	if !write(cp) {
		return
	}
	var pid uint16
	for range rng.IntN(11) {
		pid++
		if rng.IntN(10) < 6 {
			topic := fuzzMQTTTopics[rng.IntN(len(fuzzMQTTTopics))]
			pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
			pub.TopicName, pub.Qos, pub.Retain = topic, byte(rng.IntN(3)), rng.IntN(4) == 0
			if pub.Qos > 0 {
				pub.MessageID = pid
			}
			pub.Payload = []byte(cred.user + "|" + valid + "|" + strconv.FormatInt(next.Add(1), 10))
			if !write(pub) {
				break
			}
			continue
		}
		sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
		sub.MessageID = pid
		sub.Topics = []string{fuzzMQTTFilters[rng.IntN(len(fuzzMQTTFilters))]}
		sub.Qoss = []byte{byte(rng.IntN(3))}
		if !write(sub) {
			break
		}
	}
	// a round trip (PINGRESP) before DISCONNECT, so that deliveries due
	// to this connection's own subscriptions have a chance to arrive
	if write(packets.NewControlPacket(packets.Pingreq)) && write(packets.NewControlPacket(packets.Disconnect)) {
		<-done
	}
}

// fuzzRetained subscribes as the auditor to '#' and checks every retained
// message it receives, until a round trip shows nothing more is coming.
func fuzzRetained(t *testing.T, addr string, log *fuzzLog) int {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion, cp.CleanSession, cp.Keepalive = "MQTT", 4, true, 30
	cp.ClientIdentifier, cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = "auditor", true, "auditor", true, []byte("auditorpw")
	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.MessageID, sub.Topics, sub.Qoss = 1, []string{"#"}, []byte{0}
	for _, p := range []packets.ControlPacket{cp, sub, packets.NewControlPacket(packets.Pingreq)} {
		if err := p.Write(nc); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(nc)
	n := 0
	for {
		p, err := packets.ReadPacket(r)
		if err != nil {
			t.Fatalf("auditor: %v", err)
		}
		switch p := p.(type) {
		case *packets.ConnackPacket:
			if p.ReturnCode != packets.Accepted {
				t.Fatalf("auditor refused: %d", p.ReturnCode)
			}
		case *packets.SubackPacket:
			if p.ReturnCodes[0] == 0x80 {
				t.Fatal("auditor may not subscribe to #")
			}
		case *packets.PublishPacket:
			if p.Retain {
				log.checkMessage("retained", mqttToSTOMP(p.TopicName), string(p.Payload))
				n++
			}
		case *packets.PingrespPacket:
			return n // retained messages are queued behind SUBACK, before PINGRESP
		}
	}
}
