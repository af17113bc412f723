package main

import (
	"io"
	"log"
	"os"
	"testing"
)

// go-stomp logs through the standard logger, one line for every ERROR
// frame it receives; the space tests provoke thousands on purpose, and in a
// CI log they bury the lines that explain a failure. The brokers under test
// are separate processes whose logs the tests keep themselves.
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
