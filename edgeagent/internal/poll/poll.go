// Package poll waits in tests for a condition that another goroutine makes
// true, failing the test after a bound.
package poll

import (
	"testing"
	"time"
)

// Until polls cond every millisecond until it holds, failing the test
// after 10 s.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
