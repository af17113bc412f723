package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// Groups is a list of group names, written in YAML as a list or as
// ActiveMQ's comma-separated string ("producers,admins").
type Groups []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (g *Groups) UnmarshalYAML(n *yaml.Node) error {
	var list []string
	switch n.Kind {
	case yaml.ScalarNode:
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
	case yaml.SequenceNode:
		if err := n.Decode(&list); err != nil {
			return err
		}
	default:
		return fmt.Errorf("line %d: want a group list (a,b or [a, b])", n.Line)
	}
	*g = list
	return nil
}

// Everyone is the group every user (the anonymous one included) is in.
// ActiveMQ spells it "*"; both are accepted.
const Everyone = "everyone"

// AnonymousGroup is the group of a client that connected without
// credentials, which only a broker with no users allows.
const AnonymousGroup = "anonymous"

// User is one account.
type User struct {
	Name         string
	Password     string // clear text, or
	PasswordHash string // a bcrypt hash ($2a$, $2b$, $2y$)
	Groups       []string
}

// CheckHash reports whether h is a usable bcrypt hash.
func CheckHash(h string) error {
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Errorf("not a bcrypt hash: %w", err)
	}
	return nil
}

// DefaultFailureDelay is how long a refused login waits before its answer.
const DefaultFailureDelay = 500 * time.Millisecond

// ErrBadCredentials is every authentication failure, whatever its cause, so
// that a client cannot tell an unknown user from a wrong password.
var ErrBadCredentials = errors.New("bad credentials")

// Authenticator checks logins against a fixed set of users.
type Authenticator struct {
	users map[string]*User
	delay time.Duration
	log   *slog.Logger
	stop  chan struct{}
	once  sync.Once

	// verified remembers, per user, a digest of the last password that
	// matched its bcrypt hash: reconnect storms after a failover would
	// otherwise cost a bcrypt comparison (tens of ms of CPU) per client.
	mu       sync.Mutex
	verified map[string][sha256.Size]byte
}

// dummyHash is compared against for unknown users, so that they cost what
// a known user with a wrong password costs.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tether: no such user"), bcrypt.MinCost)

// NewAuthenticator checks logins against users. Every refusal is answered
// failureDelay after the attempt began (0: DefaultFailureDelay), whatever
// the cause, so that timing tells nothing and guessing is slow.
func NewAuthenticator(users []User, failureDelay time.Duration, log *slog.Logger) *Authenticator {
	if failureDelay <= 0 {
		failureDelay = DefaultFailureDelay
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Authenticator{users: map[string]*User{}, delay: failureDelay, log: log,
		stop: make(chan struct{}), verified: map[string][sha256.Size]byte{}}
	for i := range users {
		u := users[i]
		a.users[u.Name] = &u
	}
	return a
}

// Close cuts short the delays of refusals still waiting (the broker is
// stopping).
func (a *Authenticator) Close() { a.once.Do(func() { close(a.stop) }) }

// Authenticate returns nil if pass is user's password, ErrBadCredentials
// after the failure delay otherwise. The password is never logged.
func (a *Authenticator) Authenticate(user, pass string) error {
	start := time.Now()
	reason := a.check(user, pass)
	if reason == "" {
		return nil
	}
	a.log.Warn("authentication failed", "user", user, "reason", reason)
	t := time.NewTimer(time.Until(start.Add(a.delay)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-a.stop:
	}
	return ErrBadCredentials
}

// check returns why the login is refused, "" if it is not.
func (a *Authenticator) check(user, pass string) string {
	u := a.users[user]
	if u == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return "unknown user"
	}
	if u.PasswordHash == "" {
		if subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) == 1 {
			return ""
		}
		return "wrong password"
	}
	sum := sha256.Sum256([]byte(pass))
	a.mu.Lock()
	known, ok := a.verified[user]
	a.mu.Unlock()
	if ok && subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
		return ""
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pass)) != nil {
		return "wrong password"
	}
	a.mu.Lock()
	a.verified[user] = sum
	a.mu.Unlock()
	return ""
}

// Groups returns the groups of user as configured (nil if unknown).
func (a *Authenticator) Groups(user string) []string {
	if u := a.users[user]; u != nil {
		return u.Groups
	}
	return nil
}
