package failover

import "fmt"

// SetDefault sets the failover option name (its URI spelling) to value
// unless the URI itself sets it: the URI is the source of truth, and
// options given in code fill in what it leaves out. The value is checked
// by the same rules as in a URI, whichever wins, and the error names the
// option. Call Check once all are set.
func (s *Spec) SetDefault(name, value string) error {
	probe := s.Options
	if err := probe.apply(name, value); err != nil {
		return fmt.Errorf("option %s=%s: %w", name, value, err)
	}
	if !s.explicit[name] {
		s.Options = probe
	}
	return nil
}

// Check rejects option combinations that cannot work (a maximum reconnect
// delay below the initial one, ...), after SetDefault calls.
func (s *Spec) Check() error {
	if err := s.Options.check(); err != nil {
		return fmt.Errorf("failover options: %w", err)
	}
	return nil
}

// SetInURI reports whether the URI sets the failover option name.
func (s *Spec) SetInURI(name string) bool { return s.explicit[name] }
