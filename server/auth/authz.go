package auth

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tethermq/tether/server/internal/broker"
)

// Entry is one authorizationEntry: a queue or topic pattern and the groups
// that may read, write and admin the destinations it matches.
type Entry struct {
	Kind               broker.DestKind
	Pattern            string
	Read, Write, Admin []string
}

// CheckPattern validates a destination pattern: non-empty elements, and '>'
// only as the last one.
func CheckPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty pattern")
	}
	elems := strings.Split(p, ".")
	for i, e := range elems {
		switch {
		case e == "":
			return fmt.Errorf("pattern %q: empty element", p)
		case e == ">" && i != len(elems)-1:
			return fmt.Errorf("pattern %q: '>' must be the last element", p)
		case e != ">" && e != "*" && strings.ContainsAny(e, "*>"):
			return fmt.Errorf("pattern %q: a wildcard must be a whole element", p)
		}
	}
	return nil
}

// covers reports whether every name that pattern name matches is matched
// by entry, as the broker matches ('*' one element, '>' zero or more). For
// a plain name that is ordinary matching; for a subscription pattern it
// only grants what the entry grants in full, never a union of narrower
// entries that might leave a gap.
func covers(entry []string, name []string) bool {
	for i, e := range entry {
		if e == ">" {
			return true
		}
		if i >= len(name) || name[i] == ">" {
			return false
		}
		if e != "*" && e != name[i] {
			return false
		}
	}
	return len(entry) == len(name)
}

type compiled struct {
	kind   broker.DestKind
	elems  []string
	groups [3][]string // by broker.Action
}

// Authorizer is a broker.Policy over a fixed set of entries and users.
type Authorizer struct {
	entries []compiled
	groups  map[string][]string // user -> groups

	mu    sync.RWMutex
	cache map[decisionKey]bool
}

type decisionKey struct {
	user string
	a    broker.Action
	d    broker.Destination
}

// maxCachedDecisions bounds the decision cache; past it the cache starts
// over (decisions are pure, so that costs only their recomputation).
const maxCachedDecisions = 1 << 16

// NewAuthorizer grants what entries grant to users' groups. A user not in
// users (the anonymous user, when the broker has no users) is in the group
// AnonymousGroup only; everyone is in Everyone.
func NewAuthorizer(entries []Entry, users []User) *Authorizer {
	z := &Authorizer{groups: map[string][]string{}, cache: map[decisionKey]bool{}}
	for _, e := range entries {
		c := compiled{kind: e.Kind, elems: strings.Split(e.Pattern, ".")}
		c.groups[broker.ActionRead] = e.Read
		c.groups[broker.ActionWrite] = e.Write
		c.groups[broker.ActionAdmin] = e.Admin
		z.entries = append(z.entries, c)
	}
	for _, u := range users {
		z.groups[u.Name] = u.Groups
	}
	return z
}

// Allowed implements broker.Policy.
func (z *Authorizer) Allowed(user string, a broker.Action, d broker.Destination) bool {
	k := decisionKey{user, a, d}
	z.mu.RLock()
	ok, hit := z.cache[k]
	z.mu.RUnlock()
	if hit {
		return ok
	}
	ok = z.decide(user, a, d)
	z.mu.Lock()
	if len(z.cache) >= maxCachedDecisions {
		clear(z.cache)
	}
	z.cache[k] = ok
	z.mu.Unlock()
	return ok
}

func (z *Authorizer) decide(user string, a broker.Action, d broker.Destination) bool {
	if int(a) >= len(compiled{}.groups) {
		return false
	}
	mine, known := z.groups[user]
	if !known {
		mine = []string{AnonymousGroup}
	}
	name := strings.Split(d.Name, ".")
	for _, e := range z.entries {
		if e.kind != d.Kind || !covers(e.elems, name) {
			continue
		}
		for _, g := range e.groups[a] {
			if g == Everyone || g == "*" {
				return true
			}
			for _, m := range mine {
				if m == g {
					return true
				}
			}
		}
	}
	return false
}
