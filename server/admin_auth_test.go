package server

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func adminRequest(t *testing.T, method, url, user, pass string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAdminPortSecurity(t *testing.T) {
	cfg := securityConfig(t, nil)
	cfg.AdminAddress = "127.0.0.1:0"
	s := startConfig(t, cfg, nil)
	base := "http://" + s.Addr("admin")
	crossSite := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	for _, c := range []struct {
		name, method, path, user, pass string
		hdr                            map[string]string
		want                           int
	}{
		{"healthz is open", "GET", "/healthz", "", "", nil, http.StatusOK},
		{"no credentials", "GET", "/api/destinations", "", "", nil, http.StatusUnauthorized},
		{"wrong password", "GET", "/api/destinations", "root", "nope", nil, http.StatusUnauthorized},
		{"not an admin", "GET", "/api/destinations", "alice", "alicepw", nil, http.StatusForbidden},
		{"admin", "GET", "/api/destinations", "root", "rootpw", nil, http.StatusOK},
		{"mutation by GET", "GET", "/api/groups/reset?queue=orders.eu", "root", "rootpw", nil, http.StatusMethodNotAllowed},
		{"mutation without credentials", "POST", "/api/groups/reset?queue=orders.eu", "", "", nil, http.StatusUnauthorized},
		{"mutation by a non-admin", "POST", "/api/groups/reset?queue=orders.eu", "bob", "bobpw", nil, http.StatusForbidden},
		{"cross-origin mutation", "POST", "/api/groups/reset?queue=orders.eu", "root", "rootpw", crossSite, http.StatusForbidden},
		{"cross-origin by Origin alone", "POST", "/api/groups/reset?queue=orders.eu", "root", "rootpw", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		// the queue does not exist: the request got through to the handler
		{"same-origin mutation", "POST", "/api/groups/reset?queue=orders.eu", "root", "rootpw", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusNotFound},
		{"non-browser mutation", "POST", "/api/groups/reset?queue=orders.eu", "root", "rootpw", nil, http.StatusNotFound},
	} {
		if got := adminRequest(t, c.method, base+c.path, c.user, c.pass, c.hdr); got != c.want {
			t.Errorf("%s: %s %s = %d, want %d", c.name, c.method, c.path, got, c.want)
		}
	}
	// a 401 says how to authenticate
	req, _ := http.NewRequest("GET", base+"/api/destinations", nil)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("401 without a Basic challenge: %v", resp.Header)
	}
}

// Without users the API stays open (as before), but still refuses
// cross-origin mutations.
func TestAdminPortWithoutUsers(t *testing.T) {
	cfg := Config{BrokerName: "open", DataDirectory: t.TempDir(), AdminAddress: "127.0.0.1:0",
		TransportConnectors: []Connector{{Name: "s", URI: "stomp://127.0.0.1:0"}}}
	s := startConfig(t, cfg, nil)
	base := "http://" + s.Addr("admin")
	if got := adminRequest(t, "GET", base+"/api/destinations", "", "", nil); got != http.StatusOK {
		t.Fatalf("GET /api/destinations = %d", got)
	}
	if got := adminRequest(t, "POST", base+"/api/groups/reset?queue=q", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); got != http.StatusForbidden {
		t.Fatalf("cross-site POST = %d, want 403", got)
	}
}
