//go:build interop

package server

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// Third-party clients over TLS with client certificates and passwords:
// Debian's mosquitto clients on mqtt+ssl, Qpid Proton on amqp+ssl; a wrong
// password and a forbidden destination are refused the way each expects.

func TestMosquittoTLS(t *testing.T) {
	certs := testutil.NewCerts(t)
	cfg := securityConfig(t, certs)
	cfg.SSLContext.NeedClientAuth = true
	s := startConfig(t, cfg, nil)
	host, port, _ := strings.Cut(s.Addr("mqtt+ssl"), ":")
	tlsArgs := []string{"-h", host, "-p", port, "--cafile", certs.CAFile, "--cert", certs.ClientCertFile, "--key", certs.ClientKeyFile}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(name string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, name, append(append([]string{}, tlsArgs...), args...)...).CombinedOutput()
		return string(out), err
	}

	sub := exec.CommandContext(ctx, "mosquitto_sub", append(append([]string{}, tlsArgs...),
		"-u", "bob", "-P", "bobpw", "-t", "orders/#", "-q", "1", "-C", "1", "-v", "-i", "mosq-bob")...)
	var subOut strings.Builder
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		for _, st := range s.Broker().Stats() {
			if st.Destination == "topic://orders.>" && st.Consumers > 0 {
				return true
			}
		}
		return false
	}, "mosquitto_sub subscribed over TLS")

	if out, err := run("mosquitto_pub", "-u", "alice", "-P", "wrong", "-t", "orders/eu", "-m", "x", "-q", "1", "-i", "mosq-bad"); err == nil ||
		!strings.Contains(strings.ToLower(out), "bad user name or password") {
		t.Fatalf("wrong password: %v %s", err, out)
	}
	// eve's publish is acknowledged and dropped; then root creates the
	// topic and alice's goes through: bob gets alice's only
	for _, c := range [][]string{
		{"-u", "eve", "-P", "evepw", "-t", "orders/eu", "-m", "from eve", "-q", "1", "-i", "mosq-eve"},
		{"-u", "root", "-P", "rootpw", "-t", "orders/created", "-m", "from root", "-q", "1", "-i", "mosq-root"},
	} {
		if out, err := run("mosquitto_pub", c...); err != nil {
			t.Fatalf("mosquitto_pub %v: %v %s", c, err, out)
		}
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, subOut.String())
	}
	if got := strings.TrimSpace(subOut.String()); got != "orders/created from root" {
		t.Fatalf("mosquitto_sub got %q, want only root's message", got)
	}
	// without a client certificate the TLS handshake fails
	out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "--cafile", certs.CAFile,
		"-u", "alice", "-P", "alicepw", "-t", "orders/eu", "-m", "x", "-i", "mosq-nocert").CombinedOutput()
	if err == nil {
		t.Fatalf("a client without a certificate published: %s", out)
	}
}

const protonTLSScript = `
import sys
from proton import Message, SSLDomain
from proton.utils import BlockingConnection, LinkDetached
url, ca, cert, key = sys.argv[1:5]
ssl = SSLDomain(SSLDomain.MODE_CLIENT)
ssl.set_trusted_ca_db(ca)
ssl.set_peer_authentication(SSLDomain.VERIFY_PEER)  # the chain; Proton matches names against DNS entries only, and we dial an IP
ssl.set_credentials(cert, key, None)
conn = BlockingConnection(url, timeout=10, ssl_domain=ssl, user="eve", password="evepw", allowed_mechs="PLAIN", sasl_enabled=True)
snd = conn.create_sender("queue://open.proton")
snd.send(Message(body="over TLS"))
rcv = conn.create_receiver("queue://open.proton", credit=1)
m = rcv.receive(timeout=10)
rcv.accept()
print("GOT", m.body, flush=True)
try:
    conn.create_sender("queue://orders.eu")
    print("FORBIDDEN SENDER ATTACHED", flush=True)
except LinkDetached as e:
    print("REFUSED", e, flush=True)
conn.close()
`

func TestQpidProtonTLS(t *testing.T) {
	certs := testutil.NewCerts(t)
	s := startConfig(t, securityConfig(t, certs), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", protonTLSScript,
		"amqps://"+s.Addr("amqp+ssl"), certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile).CombinedOutput()
	if err != nil {
		t.Fatalf("qpid-proton: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "GOT over TLS") || !strings.Contains(string(out), "REFUSED") ||
		!strings.Contains(string(out), "unauthorized-access") {
		t.Fatalf("qpid-proton output: %s", out)
	}
}
