package amqp

import (
	"context"
	"errors"
	"testing"

	goamqp "github.com/Azure/go-amqp"
)

func users(creds map[string]string) func(user, pass string) error {
	return func(user, pass string) error {
		if p, ok := creds[user]; ok && p == pass {
			return nil
		}
		return errors.New("bad credentials")
	}
}

func dialErr(e *env, o *goamqp.ConnOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := goamqp.Dial(ctx, e.url(), o)
	if err == nil {
		c.Close()
	}
	return err
}

func TestSASLPlain(t *testing.T) {
	e := startEnv(t, Options{Authenticate: users(map[string]string{"alice": "secret"})}, "")
	if err := dialErr(e, &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("alice", "secret")}); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	// The authenticated connection is usable.
	s := e.session(e.dial(&goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("alice", "secret")}))
	send(t, e.sender(s, "auth", nil), goamqp.NewMessage([]byte("ok")))

	bad := []struct {
		name string
		opts *goamqp.ConnOptions
	}{
		{"wrong password", &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("alice", "guess")}},
		{"unknown user", &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("mallory", "secret")}},
		{"anonymous not offered", &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()}},
		{"no SASL at all", nil},
	}
	for _, c := range bad {
		if err := dialErr(e, c.opts); err == nil {
			t.Errorf("%s: connection accepted", c.name)
		}
	}
}

func TestSASLAnonymous(t *testing.T) {
	// No authenticator: ANONYMOUS, PLAIN with anything, and no SASL all work.
	open := startEnv(t, Options{}, "")
	for _, o := range []*goamqp.ConnOptions{
		{SASLType: goamqp.SASLTypeAnonymous()},
		{SASLType: goamqp.SASLTypePlain("anyone", "anything")},
		nil,
	} {
		if err := dialErr(open, o); err != nil {
			t.Errorf("open broker refused %+v: %v", o, err)
		}
	}
	// An authenticator with AllowAnonymous still offers ANONYMOUS.
	mixed := startEnv(t, Options{Authenticate: users(nil), AllowAnonymous: true}, "")
	if err := dialErr(mixed, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()}); err != nil {
		t.Errorf("AllowAnonymous: %v", err)
	}
	if err := dialErr(mixed, &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("x", "y")}); err == nil {
		t.Errorf("AllowAnonymous accepted bad PLAIN credentials")
	}
}

// The container-id is the broker client id: a second connection with the
// same one takes over (link stealing), closing the first.
func TestSameContainerIDTakesOver(t *testing.T) {
	e := startEnv(t, Options{}, "")
	first := e.dial(&goamqp.ConnOptions{ContainerID: "app-1"})
	rcv := e.receiver(e.session(first), "stolen", nil)
	e.dial(&goamqp.ConnOptions{ContainerID: "app-1"})
	_, err := rcv.Receive(ctxT(t), nil)
	var connErr *goamqp.ConnError
	if !errors.As(err, &connErr) || connErr.RemoteErr == nil || connErr.RemoteErr.Condition != goamqp.ErrCondConnectionForced {
		t.Fatalf("first connection: %v, want closed with amqp:connection:forced", err)
	}
}
