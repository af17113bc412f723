package failover

import (
	"fmt"
	"net/url"
	"strings"
)

// SpecKind says which form a connection URI was written in.
type SpecKind uint8

const (
	// KindSingle is a plain broker URI (tcp://h:p); it behaves as a
	// one-element failover list with default options.
	KindSingle SpecKind = iota
	// KindFailover is failover:(u1,...)?opts or failover:u1,u2.
	KindFailover
	// KindMasterSlave is masterslave:(u1,u2,...), which expands to
	// failover:(u1,u2,...)?randomize=false&maxReconnectAttempts=0.
	KindMasterSlave
)

// Spec is a parsed connection URI.
type Spec struct {
	Kind SpecKind
	// Brokers are the component URIs in the order written, with nested.*
	// options applied and duplicates removed.
	Brokers []*url.URL
	// Options are the failover options (defaults for KindSingle, the
	// masterslave expansion for KindMasterSlave).
	Options Options

	components []string // as written, for String
	query      string   // the failover query as written (or expanded)
	// explicit names the failover options the URI sets (masterslave:'s
	// expansion included): SetDefault leaves them alone.
	explicit map[string]bool
}

// String renders the spec in failover: form (passwords hidden); a
// masterslave: URI renders as its expansion.
func (s *Spec) String() string { return redactText(s.text()) }

func (s *Spec) text() string {
	var b strings.Builder
	switch s.Kind {
	case KindSingle:
		return s.components[0]
	}
	b.WriteString("failover:(")
	b.WriteString(strings.Join(s.components, ","))
	b.WriteString(")")
	if s.query != "" {
		b.WriteString("?")
		b.WriteString(s.query)
	}
	return b.String()
}

// masterSlaveQuery is exactly what ActiveMQ's MasterSlaveDiscoveryAgent
// builds around the listed URIs.
const masterSlaveQuery = "randomize=false&maxReconnectAttempts=0"

// Parse reads a connection URI:
//
//	failover:(uri1,...,uriN)?options   options apply to the failover transport
//	failover:uri1,...,uriN             a trailing ?query belongs to uriN
//	masterslave:(uri1,...,uriN)        N >= 2
//	tcp://host:port?options            any single broker URI
//
// static:(...) and multicast:// are network connector URIs (the broker's
// server/network reads them) and are refused here.
//
// Option values are URL-decoded. nested.NAME=V on a failover: URI sets NAME=V
// on every component URI, replacing a value the component already had.
// Unknown options are errors that name the option.
func Parse(raw string) (*Spec, error) {
	text := strings.TrimSpace(raw)
	scheme, rest, found := strings.Cut(text, ":")
	if !found {
		return nil, &URIError{URI: raw, Reason: "no scheme"}
	}
	var (
		spec *Spec
		err  error
	)
	switch strings.ToLower(scheme) {
	case "failover":
		spec, err = parseFailover(rest)
	case "masterslave":
		spec, err = parseMasterSlave(rest)
	case "static", "multicast":
		return nil, &URIError{URI: raw, Reason: scheme + ": names brokers for network connectors (the broker's server/network reads it); an application connects with failover:(...)"}
	default:
		spec, err = parseSingle(text)
	}
	if err != nil {
		return nil, wrapURIError(raw, err)
	}
	return spec, nil
}

func wrapURIError(raw string, err error) error {
	if ue, ok := err.(*URIError); ok {
		ue.URI = raw
		return ue
	}
	return &URIError{URI: raw, Reason: err.Error()}
}

func parseSingle(text string) (*Spec, error) {
	u, err := parseBrokerURI(text)
	if err != nil {
		return nil, err
	}
	return &Spec{Kind: KindSingle, Brokers: []*url.URL{u}, Options: DefaultOptions(), components: []string{text}}, nil
}

func parseFailover(rest string) (*Spec, error) {
	comps, query, parens, err := splitComposite(rest)
	if err != nil {
		return nil, err
	}
	opts := DefaultOptions()
	nested := map[string]string{}
	explicit := map[string]bool{}
	pairs, err := parseQuery(query)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		if name, ok := strings.CutPrefix(p.name, "nested."); ok && name != "" {
			nested[name] = p.value
			continue
		}
		if err := opts.apply(p.name, p.value); err != nil {
			return nil, &URIError{Option: p.name, Reason: err.Error()}
		}
		explicit[p.name] = true
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	brokers, err := parseComponents(comps, nested)
	if err != nil {
		return nil, err
	}
	if !parens {
		if err := refuseStrayOptions(brokers[len(brokers)-1]); err != nil {
			return nil, err
		}
	}
	return &Spec{Kind: KindFailover, Brokers: brokers, Options: opts, components: comps, query: query, explicit: explicit}, nil
}

// refuseStrayOptions catches failover options written without parentheses:
// ActiveMQ hands them to the last broker URI, where they mean nothing.
func refuseStrayOptions(last *url.URL) error {
	for name := range last.Query() {
		_, known := optionSetters[name]
		if known || strings.HasPrefix(name, "nested.") {
			return &URIError{Option: name, Reason: "without parentheses a ?query belongs to the last broker URI; write failover:(uri1,uri2)?options"}
		}
	}
	return nil
}

func parseMasterSlave(rest string) (*Spec, error) {
	comps, query, _, err := splitComposite(rest)
	if err != nil {
		return nil, err
	}
	if query != "" {
		return nil, fmt.Errorf("masterslave: takes no options (it always means %s); write failover:(...) to choose options", masterSlaveQuery)
	}
	if len(comps) < 2 {
		return nil, fmt.Errorf("masterslave: needs at least 2 URIs, got %d", len(comps))
	}
	brokers, err := parseComponents(comps, nil)
	if err != nil {
		return nil, err
	}
	opts := DefaultOptions()
	opts.Randomize = false
	opts.MaxReconnectAttempts = 0
	return &Spec{Kind: KindMasterSlave, Brokers: brokers, Options: opts, components: comps, query: masterSlaveQuery,
		explicit: map[string]bool{"randomize": true, "maxReconnectAttempts": true}}, nil
}

// splitComposite splits "(u1,u2)?q" or "u1,u2" into components and the
// query. A leading "//" is ignored, as ActiveMQ does.
func splitComposite(rest string) (comps []string, query string, parens bool, err error) {
	rest = strings.TrimPrefix(strings.TrimSpace(rest), "//")
	if strings.HasPrefix(rest, "(") {
		end := matchingParen(rest)
		if end < 0 {
			return nil, "", true, fmt.Errorf("unbalanced parentheses")
		}
		inner, after := rest[1:end], rest[end+1:]
		if after != "" {
			q, ok := strings.CutPrefix(after, "?")
			if !ok {
				return nil, "", true, fmt.Errorf("unexpected %q after the closing parenthesis", after)
			}
			query = q
		}
		comps = splitTopLevel(inner)
		parens = true
	} else {
		comps = splitTopLevel(rest)
	}
	out := comps[:0]
	for _, c := range comps {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, "", parens, fmt.Errorf("no broker URIs")
	}
	return out, query, parens, nil
}

// matchingParen returns the index of the parenthesis closing s[0], or -1.
func matchingParen(s string) int {
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTopLevel splits on commas that are not inside parentheses.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

type queryPair struct{ name, value string }

// parseQuery splits a raw query on & and the first =, URL-decoding both
// halves, keeping the order written. A repeated name is an error: which
// value wins would otherwise be a guess.
func parseQuery(q string) ([]queryPair, error) {
	var pairs []queryPair
	seen := map[string]bool{}
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, &URIError{Option: k, Reason: "bad URL encoding in the name"}
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, &URIError{Option: name, Reason: "bad URL encoding in the value"}
		}
		if !hasValue {
			return nil, &URIError{Option: name, Reason: "needs a value (name=value)"}
		}
		if seen[name] {
			return nil, &URIError{Option: name, Reason: "given twice"}
		}
		seen[name] = true
		pairs = append(pairs, queryPair{name, value})
	}
	return pairs, nil
}

func parseComponents(comps []string, nested map[string]string) ([]*url.URL, error) {
	var out []*url.URL
	seen := map[string]bool{}
	for _, c := range comps {
		u, err := parseBrokerURI(c)
		if err != nil {
			return nil, err
		}
		if len(nested) > 0 {
			q := u.Query()
			for k, v := range nested {
				q.Set(k, v)
			}
			u.RawQuery = q.Encode()
		}
		if key := u.String(); !seen[key] {
			seen[key] = true
			out = append(out, u)
		}
	}
	return out, nil
}

// parseBrokerURI reads one component: scheme://host:port[?options]. The
// adapter that owns the scheme validates port and options later.
func parseBrokerURI(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("broker URI %q: %v", s, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "":
		return nil, fmt.Errorf("broker URI %q: no scheme (want e.g. tcp://host:61616)", s)
	case "failover", "masterslave", "static":
		return nil, fmt.Errorf("broker URI %q: a %s: list cannot be nested inside another list", s, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("broker URI %q: no host (want %s://host:port)", s, u.Scheme)
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return nil, fmt.Errorf("broker URI %q: %v", s, err)
	}
	return u, nil
}
