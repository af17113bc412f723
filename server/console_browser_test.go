//go:build interop

package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser starts Debian's headless Chromium for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console tests need Debian's chromium (apt-get install chromium): %v", err)
	}
	// Not t.TempDir: Chromium's helper processes can still write to the
	// profile for a moment after the browser is stopped, which would fail
	// the test at cleanup. The profile is removed best-effort instead.
	profile, err := os.MkdirTemp("", "tether-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(profile))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelT()
		cancelB()
		cancelA()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // a helper process still writing: try again
		}
		t.Logf("chromium profile %s left behind", profile)
	})
	if err := chromedp.Run(ctx); err != nil { // start the browser now
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// loginAs sends basic credentials with every request of the tab, as a
// browser does once the operator typed them in its dialog.
func loginAs(user, pass string) chromedp.Action {
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return chromedp.Tasks{network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Authorization": "Basic " + token})}
}

func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	var s string
	if err := chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery)); err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Every console page of a broker holding messages, groups, a durable
// subscription, a dead letter and a bridge, in a real browser; then a
// purge and a dead letter's move through the console's forms.
func TestConsoleInBrowser(t *testing.T) {
	cb := newConsoleBroker(t)
	ctx := browser(t)

	// Without credentials: 401, and nothing of the broker shown. The
	// operator dismisses the browser's login prompt (the test answers
	// the auth challenge with "cancel"), and the page is the 401's.
	var status atomic.Int64 // the last document's HTTP status
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				status.Store(ev.Response.Status)
			}
		case *fetch.EventRequestPaused:
			go func() { _ = chromedp.Run(ctx, fetch.ContinueRequest(ev.RequestID)) }()
		case *fetch.EventAuthRequired:
			go func() {
				_ = chromedp.Run(ctx, fetch.ContinueWithAuth(ev.RequestID,
					&fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}))
			}()
		}
	})
	if err := chromedp.Run(ctx, network.Enable(), fetch.Enable().WithHandleAuthRequests(true),
		chromedp.Navigate(cb.base+"/queues")); err != nil {
		t.Fatal(err)
	}
	if body := text(ctx, t, "body"); status.Load() != http.StatusUnauthorized || !strings.Contains(body, "authentication required") {
		t.Fatalf("unauthenticated console: status %d, page %q", status.Load(), body)
	}
	if err := chromedp.Run(ctx, fetch.Disable()); err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Run(ctx, loginAs(consoleUser, consolePass)); err != nil {
		t.Fatal(err)
	}
	// A directory to write every page's screenshot to (docs/ keeps the
	// overview's and a queue's).
	shots := os.Getenv("TETHER_CONSOLE_SCREENSHOTS")
	page := func(path string, checks map[string]string, shot string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Navigate(cb.base+path), chromedp.WaitVisible("main", chromedp.ByQuery)); err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		if st := status.Load(); st != http.StatusOK {
			t.Fatalf("%s: status %d", path, st)
		}
		for sel, want := range checks {
			if got := text(ctx, t, sel); !strings.Contains(got, want) {
				t.Errorf("%s: %s shows %q, want %q", path, sel, got, want)
			}
		}
		var png []byte
		if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil || len(png) == 0 {
			t.Fatalf("%s: screenshot: %v", path, err)
		}
		if shots != "" && shot != "" {
			if err := os.WriteFile(filepath.Join(shots, shot), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	page("/", map[string]string{
		"#ov-name": "console-test", "#ov-role": "master", "#broker-role": "master", "#ov-messages": "6", "#ov-queues": fmt.Sprint(len(cb.s.Broker().Queues(0))),
		"#ov-conn-stomp": "2", "#ov-conn-network": "1", "#ov-bridges": "1", "#connectors": "stomp://127.0.0.1:0",
		"#ov-memory": "of 64.0 MiB", "#ov-store": "of ",
	}, "console-overview.png")
	page("/queues", map[string]string{
		`tr[data-queue="orders"] .pending`: "5", `tr[data-queue="orders"] .enqueued`: "5",
		`tr[data-queue="grouped"] .consumers`: "1", `tr[data-queue="grouped"] .groups`: "2",
		`tr[data-queue="ActiveMQ.DLQ"] .pending`: "1",
	}, "console-queues.png")
	page("/queues/grouped", map[string]string{
		"#queue-name": "grouped", "#q-inflight": "4", "#q-consumers": "1",
		`tr[data-group="g-a"] .owner`: "", `tr[data-group="g-b"]`: "g-b", "#consumers": "10",
	}, "console-queue.png")
	if a, b := text(ctx, t, `tr[data-group="g-a"] .owner`), text(ctx, t, `#consumers tbody td`); a == "none" || a != b {
		t.Errorf("group g-a's owner %q is not the queue's consumer %q", a, b)
	}
	page("/queues/orders", map[string]string{"#q-pending": "5", "article.message pre.body": "order-1 <b>not bold</b>",
		"article.message .headers": "region"}, "console-messages.png")
	var bold []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("pre.body b")).map(e => e.textContent)`, &bold)); err != nil || len(bold) != 0 {
		t.Errorf("a message body was rendered as HTML: %v %v", bold, err)
	}
	page("/topics", map[string]string{`tr[data-sub="dash-client/dash"] .pending`: "3", `tr[data-sub="dash-client/dash"]`: "durable"}, "console-topics.png")
	page("/connections", map[string]string{"#connections": "network", "#connections tbody": "stomp"}, "console-connections.png")
	page("/network", map[string]string{"#bridges .remote": "remote", "#bridges .state": "up"}, "console-network.png")
	page("/queues/ActiveMQ.DLQ", map[string]string{"article.message pre.body": "too late", "article.message .headers": "original-destination"}, "console-dlq.png")

	// Purge through the console: the queue page's button, the
	// confirmation, the form's POST.
	var flash string
	step := func(name string, a chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, a); err != nil {
			var loc, body string
			_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
			t.Fatalf("%s: %v (at %s: %q)", name, err, loc, body)
		}
	}
	step("open the queue", chromedp.Navigate(cb.base+"/queues/orders"))
	step("ask to purge", chromedp.Click(`a.button[href^="/confirm?action=purge"]`, chromedp.ByQuery))
	step("the confirmation", chromedp.WaitVisible("#confirm-form", chromedp.ByQuery))
	step("confirm", chromedp.Click("#confirm", chromedp.ByQuery))
	step("the result", chromedp.WaitVisible("#flash", chromedp.ByQuery))
	step("read it", chromedp.Text("#flash", &flash, chromedp.ByQuery))
	if flash != "Purged 5 messages from queue://orders." || text(ctx, t, "#q-pending") != "0" {
		t.Fatalf("after the purge: flash %q, page shows %q waiting", flash, text(ctx, t, "#q-pending"))
	}
	if q, err := cb.s.Broker().Queue("orders", 0); err != nil || q.Pending != 0 {
		t.Fatalf("queue://orders after the console's purge: %+v %v", q, err)
	}

	// The dead letter back to its queue, the same way.
	step("open the DLQ", chromedp.Navigate(cb.base+"/queues/ActiveMQ.DLQ"))
	step("ask to move", chromedp.Click(`a.button[href^="/confirm?action=move"]`, chromedp.ByQuery))
	step("the confirmation", chromedp.WaitVisible("#confirm-form", chromedp.ByQuery))
	step("confirm", chromedp.Click("#confirm", chromedp.ByQuery))
	step("the result", chromedp.WaitVisible("#flash", chromedp.ByQuery))
	step("read it", chromedp.Text("#flash", &flash, chromedp.ByQuery))
	if !strings.HasSuffix(flash, "to queue://expiring.") || text(ctx, t, "#no-messages") == "" {
		t.Fatalf("after the move: flash %q", flash)
	}
	if q, err := cb.s.Broker().Queue("expiring", 0); err != nil || q.Pending != 1 {
		t.Fatalf("queue://expiring after the move: %+v %v", q, err)
	}

	// A form posted without the page's token (a forged one) is refused.
	code, _ := cb.do(t, "POST", "/actions/purge", strings.NewReader(url.Values{"queue": {"grouped"}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if code != http.StatusForbidden {
		t.Fatalf("a post without the CSRF token = %d, want 403", code)
	}
}
