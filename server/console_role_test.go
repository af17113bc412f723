package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tethermq/tether/internal/testutil"
)

// A slave's admin port reports its role and serves no destinations; when
// the master stops, the slave's takeover shows in its metrics.
func TestConsoleRolesAndTakeover(t *testing.T) {
	dir := t.TempDir()
	cfg := func(name, admin string) Config {
		return Config{BrokerName: name, DataDirectory: dir, AdminAddress: admin,
			TransportConnectors: []Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}}}
	}
	master := startConfig(t, cfg("amq1", "127.0.0.1:0"), nil)
	slaveAdmin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	type started struct {
		s   *Server
		err error
	}
	done := make(chan started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		s, err := Start(ctx, cfg("amq2", slaveAdmin), quiet())
		done <- started{s, err}
	}()
	get := func(path string) (int, string) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + slaveAdmin + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	metric := func(name, label, value string) float64 {
		t.Helper()
		_, body := get("/metrics")
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		for _, m := range fams[name].GetMetric() {
			if label == "" || hasLabel(m, label, value) {
				if m.Gauge != nil {
					return m.Gauge.GetValue()
				}
				return m.Counter.GetValue()
			}
		}
		t.Fatalf("no %s{%s=%q}", name, label, value)
		return 0
	}
	testutil.Eventually(t, 10*time.Second, func() bool { code, body := get("/healthz"); return code == 503 && body == "slave\n" },
		"the second broker's admin port does not say slave")
	if metric("tether_broker_role", "role", "slave") != 1 || metric("tether_broker_takeovers_total", "", "") != 0 {
		t.Fatal("a slave's metrics do not say slave")
	}
	if code, _ := get("/api/queues"); code != http.StatusServiceUnavailable {
		t.Fatalf("a slave's /api/queues = %d, want 503", code)
	}
	if code, body := get("/"); code != http.StatusOK || !bytes.Contains([]byte(body), []byte(`id="ov-role">slave<`)) {
		t.Fatalf("a slave's overview = %d: %s", code, body)
	}

	master.Close()
	var st started
	select {
	case st = <-done:
	case <-ctx.Done():
		t.Fatal("the slave did not take over")
	}
	if st.err != nil {
		t.Fatal(st.err)
	}
	defer st.s.Close()
	if metric("tether_broker_role", "role", "master") != 1 || metric("tether_broker_takeovers_total", "", "") != 1 ||
		metric("tether_broker_lock_losses_total", "", "") != 0 {
		t.Fatal("the takeover is not in the new master's metrics")
	}
}
