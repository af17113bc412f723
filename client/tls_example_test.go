package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log"
	"os"

	"github.com/tethermq/tether/client"
)

// ExampleWithTLS connects over TLS to a pair of brokers that require a
// client certificate and a password (sslContext with needClientAuth, and
// users), trusting the private CA that signed their certificates. Every
// reconnect of the failover URI uses the same configuration.
func ExampleWithTLS() {
	caPEM, err := os.ReadFile("ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		log.Fatal("ca.pem: no certificate")
	}
	cert, err := tls.LoadX509KeyPair("client.pem", "client-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Dial(context.Background(),
		"failover:(stomp+ssl://amq1:61612,stomp+ssl://amq2:61612)",
		client.WithTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		client.WithCredentials("app", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
}
