package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// hashPassword reads one password (its first line) from in and writes its
// bcrypt hash to out, for a users entry's passwordHash. The cost is
// bcrypt's default (10): tens of milliseconds per check, paid once per user
// and connection burst (the broker remembers verified passwords).
func hashPassword(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("--hash-password: reading the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("--hash-password: empty password on stdin")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("--hash-password: %w", err)
	}
	_, err = fmt.Fprintln(out, string(h))
	return err
}
