package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs is a throw-away PKI generated at run time (no private key is ever
// committed): a CA, a broker certificate for 127.0.0.1 and localhost
// (usable as a client certificate too, as network bridges present it) and
// a client certificate, all signed by the CA, as PEM files in Dir.
type Certs struct {
	Dir                           string
	CAFile                        string
	CertFile, KeyFile             string // the broker's
	ClientCertFile, ClientKeyFile string
	Roots                         *x509.CertPool // trusts the CA
	Client                        tls.Certificate
}

// NewCerts generates a fresh PKI in a test directory.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	return newCerts(t, time.Now().Add(24*time.Hour))
}

// NewExpiredCerts is NewCerts with a broker certificate that expired an
// hour ago.
func NewExpiredCerts(t testing.TB) *Certs {
	t.Helper()
	return newCerts(t, time.Now().Add(-time.Hour))
}

func newCerts(t testing.TB, serverNotAfter time.Time) *Certs {
	t.Helper()
	dir := t.TempDir()
	c := &Certs{Dir: dir, Roots: x509.NewCertPool()}
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tether test CA"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	c.Roots.AddCert(caCert)
	c.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	issue := func(serial int64, name string, usage []x509.ExtKeyUsage, notAfter time.Time) (certDER []byte, key *ecdsa.PrivateKey) {
		key = newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	srvDER, srvKey := issue(2, "tether test broker", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, serverNotAfter)
	c.CertFile = writePEM(t, dir, "server.pem", "CERTIFICATE", srvDER)
	c.KeyFile = writeKey(t, dir, "server-key.pem", srvKey)
	cliDER, cliKey := issue(3, "tether test client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, time.Now().Add(24*time.Hour))
	c.ClientCertFile = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	c.ClientKeyFile = writeKey(t, dir, "client-key.pem", cliKey)
	c.Client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	return c
}

// ClientTLS trusts the CA and, with withCert, presents the client
// certificate.
func (c *Certs) ClientTLS(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: c.Roots, MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{c.Client}
	}
	return cfg
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeKey(t testing.TB, dir, name string, k *ecdsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "PRIVATE KEY", der)
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
