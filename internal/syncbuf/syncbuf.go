// Package syncbuf is a bytes.Buffer that goroutines may write to at once:
// tests hand it to a logger and read what was logged while the server runs.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects output from concurrent goroutines. The zero value is
// ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
