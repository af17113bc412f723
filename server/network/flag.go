package network

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// ParseFlag reads a network connector written on one line, as refbroker's
// --network-connector flag takes it: the connector URI, whose query may also
// carry any <networkConnector> attribute by its activemq.xml name.
//
//	masterslave:(tcp://b1:61616,tcp://b2:61616)?duplex=true&name=toB
//	static:(tcp://b:61616)?networkTTL=2&initialReconnectDelay=500
//	multicast://default?group=prod&networkInterface=eth0
//
// Attribute names are taken out of the query; what remains belongs to the
// URI (reconnect or discovery options). List attributes are comma-separated.
func ParseFlag(s string) (Options, error) {
	o := Defaults()
	base, query := splitOuterQuery(s)
	var rest []string
	if query != "" {
		for _, pair := range strings.Split(query, "&") {
			if pair == "" {
				continue
			}
			rawName, rawValue, _ := strings.Cut(pair, "=")
			name, err := url.QueryUnescape(rawName)
			if err != nil {
				return o, fmt.Errorf("network connector %q: option %q: %w", s, rawName, err)
			}
			idx, ok := optionFields[name]
			if !ok || name == "uri" {
				if err := (&UnknownOptionError{Option: name}); strings.Contains(err.Error(), "did you mean") {
					return o, fmt.Errorf("network connector %q: %w", s, err)
				}
				rest = append(rest, pair) // the URI's own option, checked with it
				continue
			}
			value, err := url.QueryUnescape(rawValue)
			if err != nil {
				return o, fmt.Errorf("network connector %q: option %s: %w", s, name, err)
			}
			if err := setField(reflect.ValueOf(&o).Elem().Field(idx), value); err != nil {
				return o, fmt.Errorf("network connector %q: option %s=%q: %w", s, name, value, err)
			}
		}
	}
	o.URI = base
	if len(rest) > 0 {
		o.URI += "?" + strings.Join(rest, "&")
	}
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("network connector %q: %w", s, err)
	}
	return o, nil
}

// splitOuterQuery separates the query of the connector URI itself from the
// queries of the broker URIs inside static:(...) or masterslave:(...).
func splitOuterQuery(s string) (base, query string) {
	start := 0
	if i := strings.LastIndex(s, ")"); i >= 0 {
		start = i
	}
	if j := strings.Index(s[start:], "?"); j >= 0 {
		return s[:start+j], s[start+j+1:]
	}
	return s, ""
}

func setField(f reflect.Value, v string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		f.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		f.SetInt(int64(n))
	case reflect.Slice:
		var items []string
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				items = append(items, x)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set on the command line")
	}
	return nil
}
