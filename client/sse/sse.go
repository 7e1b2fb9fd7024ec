// Package sse reads server-sent event streams (the text/event-stream
// format of the HTML standard), for the clients of GET /v1/events/stream:
// the client's Events.Stream, `herald listen` and the tests.
package sse

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// Message is one dispatched event of a stream.
type Message struct {
	// ID is the last id field seen, carried over as the standard says:
	// what a client sends back as Last-Event-ID.
	ID string
	// Event is the event field ("message" when absent).
	Event string
	// Data is the data fields joined with newlines.
	Data []byte
}

// Reader reads messages from a stream. Comments (heartbeats) and retry
// fields are consumed silently.
type Reader struct {
	s      *bufio.Scanner
	lastID string
}

// maxLine bounds one line of the stream: an event body is one line.
const maxLine = 4 << 20

// NewReader reads messages from r.
func NewReader(r io.Reader) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), maxLine)
	return &Reader{s: s}
}

// Next returns the next message. At the end of the stream it returns
// io.EOF (a message cut off by the end is dropped, as the standard says),
// or the error that ended it.
func (r *Reader) Next() (Message, error) {
	var m Message
	var data bytes.Buffer
	hasData := false
	for r.s.Scan() {
		line := r.s.Text()
		if line == "" {
			if !hasData {
				m = Message{}
				continue
			}
			m.ID = r.lastID
			if m.Event == "" {
				m.Event = "message"
			}
			m.Data = bytes.TrimSuffix(data.Bytes(), []byte("\n"))
			return m, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			if !strings.Contains(value, "\x00") {
				r.lastID = value
			}
		case "event":
			m.Event = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		}
	}
	if err := r.s.Err(); err != nil {
		return Message{}, err
	}
	return Message{}, io.EOF
}
