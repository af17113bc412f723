package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

// The binary with a TLS connector and users: a missing certificate stops it
// at start-up with status 1 and a message naming the file; with the right
// files it serves stomp+ssl to a client with the CA and a password, and
// warns about anonymous access only when no users are configured.
func TestSecurityProcess(t *testing.T) {
	certs := testutil.NewCerts(t)
	port := testutil.FreePort(t)
	write := func(certFile string) string {
		p := filepath.Join(t.TempDir(), "broker.yaml")
		yaml := fmt.Sprintf(`transportConnectors:
  - {name: tls, uri: "stomp+ssl://127.0.0.1:%d"}
sslContext: {certFile: %q, keyFile: %q, caFile: %q}
users:
  - {username: app, password: secret, groups: [admins]}
`, port, certFile, certs.KeyFile, certs.CAFile)
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(certs.Dir, "missing.pem")
	p := proctest.Start(t, "badcert", "--config", write(missing), "--data-directory", t.TempDir(), "--admin", "off")
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("refbroker kept running without its certificate")
	}
	if p.ExitCode() != 1 || !strings.Contains(p.Log(), "sslContext.certFile: open "+missing) {
		t.Fatalf("exit %d, log %q; want status 1 naming %s", p.ExitCode(), p.Log(), missing)
	}

	p = proctest.Start(t, "tls", "--config", write(certs.CertFile), "--data-directory", t.TempDir(), "--admin", "off")
	p.WaitLog("refbroker localhost started", 30*time.Second)
	if p.Logged("WITHOUT credentials") {
		t.Fatal("warned about anonymous access with users configured")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, fmt.Sprintf("stomp+ssl://127.0.0.1:%d", port), client.WithTLS(certs.ClientTLS(false)), client.WithCredentials("app", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(ctx, "queue://q", []byte("x")); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
