package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// `tether admin` drives a refbroker's JSON API on its admin port
// (docs/admin.md): the same calls the console makes.

const adminSynopsis = `admin [flags] COMMAND [ARGS]

Commands, over the broker's admin API (docs/admin.md):
  queues                 list the queues and their counters
  browse QUEUE           list a queue's waiting messages (--offset, --limit)
  purge QUEUE            drop a queue's waiting messages
  delete QUEUE           delete a queue (refused while it has consumers)
  reset-groups QUEUE     forget a queue's message-group owners
  move-dlq ID...         move dead letters back to their original destination
  move-dlq --all [--from DEST]
                         move every dead letter back (only DEST's with --from)

The credentials default to $TETHER_ADMIN_USER and $TETHER_ADMIN_PASSWORD.`

// adminCmd is what `tether admin` was asked to do.
type adminCmd struct {
	url, user, password string
	json                bool
	timeout             time.Duration
	offset, limit       int
	all                 bool
	from                string
	command             string
	args                []string
}

func parseAdmin(args []string, e env) (*adminCmd, error) {
	c := &adminCmd{}
	fs := newFlagSet("admin", adminSynopsis, e.stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8161", "the broker's admin port")
	fs.StringVar(&c.user, "user", os.Getenv("TETHER_ADMIN_USER"), "an admins user (when the broker has users)")
	fs.StringVar(&c.password, "password", os.Getenv("TETHER_ADMIN_PASSWORD"), "its password")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of a table")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "bound on each request")
	fs.IntVar(&c.offset, "offset", 0, "browse: messages to skip")
	fs.IntVar(&c.limit, "limit", 50, "browse: messages to list (at most 500)")
	fs.BoolVar(&c.all, "all", false, "move-dlq: every dead letter")
	fs.StringVar(&c.from, "from", "", "move-dlq --all: only those whose original destination is this (queue://X, topic://X or X)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, usagef("admin: want a command (queues, browse, purge, delete, reset-groups, move-dlq)")
	}
	// Flags may also follow the command and its arguments.
	c.command = fs.Arg(0)
	for rest := fs.Args()[1:]; len(rest) > 0; rest = fs.Args()[1:] {
		if err := parseFlags(fs, rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, fs.Arg(0))
	}
	if _, err := url.Parse(c.url); err != nil || !strings.HasPrefix(c.url, "http") {
		return nil, usagef("admin: --url %q: want http://host:port or https://host:port", c.url)
	}
	c.url = strings.TrimSuffix(c.url, "/")
	want := map[string]int{"queues": 0, "browse": 1, "purge": 1, "delete": 1, "reset-groups": 1}
	switch n, ok := want[c.command]; {
	case ok && len(c.args) != n:
		return nil, usagef("admin %s: want %d argument(s), got %d", c.command, n, len(c.args))
	case ok:
	case c.command == "move-dlq":
		if c.all == (len(c.args) > 0) {
			return nil, usagef("admin move-dlq: give message ids or --all, not both or neither")
		}
		if c.from != "" && !c.all {
			return nil, usagef("admin move-dlq: --from goes with --all")
		}
		if c.from != "" {
			d, err := checkDest(c.from)
			if err != nil {
				return nil, err
			}
			c.from = d.String()
		}
	default:
		return nil, usagef("admin: unknown command %q", c.command)
	}
	if c.limit <= 0 || c.limit > 500 || c.offset < 0 {
		return nil, usagef("admin: --limit 1 to 500 and a --offset of 0 or more")
	}
	return c, nil
}

func runAdmin(ctx context.Context, args []string, e env) error {
	c, err := parseAdmin(args, e)
	if err != nil {
		return err
	}
	api := &adminClient{base: c.url, user: c.user, password: c.password, timeout: c.timeout}
	var q string
	if len(c.args) > 0 {
		q = url.PathEscape(strings.TrimPrefix(c.args[0], "queue://"))
	}
	switch c.command {
	case "queues":
		var qs []queueRow
		raw, err := api.call(ctx, "GET", "/api/queues", &qs)
		if err != nil {
			return err
		}
		if c.json {
			return writeRaw(e.stdout, raw)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "QUEUE\tWAITING\tON DISK\tIN FLIGHT\tCONSUMERS\tENQUEUED\tDEQUEUED\tEXPIRED\tTO DLQ\tGROUPS\t")
		for _, x := range qs {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", strings.TrimPrefix(x.Destination, "queue://"),
				x.Pending, x.OnDisk, x.InFlight, x.Consumers, x.Enqueued, x.Dequeued, x.Expired, x.DeadLettered, x.Groups)
		}
		return tw.Flush()
	case "browse":
		var ms []messageRow
		raw, err := api.call(ctx, "GET", fmt.Sprintf("/api/queues/%s/messages?offset=%d&limit=%d", q, c.offset, c.limit), &ms)
		if err != nil {
			return err
		}
		if c.json {
			return writeRaw(e.stdout, raw)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIMESTAMP\tPERSISTENT\tBYTES\tBODY")
		for _, m := range ms {
			body := m.Body
			if len(body) > 60 || m.BodyEncoding != "" {
				body = fmt.Sprintf("%.57s...", body)
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%q\n", m.ID, m.Timestamp.Format(time.RFC3339), m.Persistent, m.BodyBytes, body)
		}
		return tw.Flush()
	case "purge", "delete", "reset-groups":
		path := map[string]string{"purge": "/purge", "delete": "/delete", "reset-groups": "/groups/reset"}[c.command]
		var out map[string]any
		raw, err := api.call(ctx, "POST", "/api/queues/"+q+path, &out)
		if err != nil {
			return err
		}
		if c.json {
			return writeRaw(e.stdout, raw)
		}
		switch c.command {
		case "purge":
			fmt.Fprintf(e.stdout, "purged %v messages from queue://%s\n", out["purged"], c.args[0])
		case "delete":
			fmt.Fprintf(e.stdout, "deleted %v\n", out["deleted"])
		default:
			fmt.Fprintf(e.stdout, "reset the message groups of %v\n", out["reset"])
		}
		return nil
	}
	return c.moveDLQ(ctx, api, e)
}

// moveDLQ moves the given dead letters, or every one (of --from).
func (c *adminCmd) moveDLQ(ctx context.Context, api *adminClient, e env) error {
	type moved struct {
		ID      string `json:"id"`
		MovedTo string `json:"movedTo,omitempty"`
		Error   string `json:"error,omitempty"`
	}
	var results []moved
	move := func(id string) {
		var out map[string]string
		if _, err := api.call(ctx, "POST", "/api/dlq/move?id="+url.QueryEscape(id), &out); err != nil {
			results = append(results, moved{ID: id, Error: err.Error()})
			return
		}
		results = append(results, moved{ID: id, MovedTo: out["movedTo"]})
	}
	if c.all {
		// Moved messages leave the DLQ, so the next page starts after the
		// ones left behind (not of --from, or refused).
		for skipped := 0; ; {
			var page []messageRow
			_, err := api.call(ctx, "GET", fmt.Sprintf("/api/queues/%s/messages?offset=%d&limit=500", url.PathEscape(dlqName), skipped), &page)
			if err != nil {
				var ae *apiError
				if errors.As(err, &ae) && ae.status == http.StatusNotFound {
					break // no DLQ: nothing to move
				}
				return err
			}
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				if c.from != "" && originOf(m) != c.from {
					skipped++
					continue
				}
				n := len(results)
				move(m.ID)
				if results[n].Error != "" {
					skipped++
				}
			}
		}
	} else {
		for _, id := range c.args {
			move(id)
		}
	}
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
	}
	if c.json {
		if results == nil {
			results = []moved{}
		}
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := writeRaw(e.stdout, b); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRESULT")
		for _, r := range results {
			if r.Error != "" {
				fmt.Fprintf(tw, "%s\tfailed: %s\n", r.ID, r.Error)
			} else {
				fmt.Fprintf(tw, "%s\tmoved to %s\n", r.ID, r.MovedTo)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d moved, %d failed\n", len(results)-failed, failed)
	}
	if failed > 0 {
		return fmt.Errorf("move-dlq: %d of %d messages not moved", failed, len(results))
	}
	return nil
}

// originOf is a dead letter's original destination, as queue://X or
// topic://X.
func originOf(m messageRow) string {
	for _, h := range m.Headers {
		if h.Name == "original-destination" {
			return canonicalDestination(h.Value)
		}
	}
	return ""
}

func writeRaw(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		_, err := io.WriteString(w, "\n")
		return err
	}
	return nil
}

// adminClient calls the JSON API.
type adminClient struct {
	base, user, password string
	timeout              time.Duration
}

// apiError is a refusal by the API, with its status and message.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.status) }

// call makes one request, decodes a 200's JSON into out and returns the
// raw body.
func (a *adminClient) call(ctx context.Context, method, path string, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if a.user != "" {
		req.SetBasicAuth(a.user, a.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("admin %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if resp.StatusCode == http.StatusUnauthorized {
			msg += ": give an admins user with --user and --password (or $TETHER_ADMIN_USER, $TETHER_ADMIN_PASSWORD)"
		}
		return nil, &apiError{status: resp.StatusCode, msg: msg}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("admin %s %s: unexpected answer: %w", method, path, err)
	}
	return body, nil
}
