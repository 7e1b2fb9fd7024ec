package deliverynet

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package if goroutines outlive the tests: a response
// body left open or a connection never closed shows up here as a leaked
// net/http read or write loop.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 && !settles(before, 5*time.Second) {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		fmt.Fprintf(os.Stderr, "goroutines leaked: %d before the tests, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
		code = 1
	}
	os.Exit(code)
}

// settles waits up to limit for the goroutine count to fall back to want;
// closed connections take a moment to wind down their loops.
func settles(want int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
