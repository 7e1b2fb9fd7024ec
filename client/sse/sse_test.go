package sse

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReader(t *testing.T) {
	t.Parallel()

	stream := "retry: 1000\n: stream open\n\n" +
		"id: evt_1\nevent: charge.succeeded\ndata: {\"a\":1}\n\n" +
		": heartbeat\n\n" +
		"data: line one\ndata:line two\n\n" +
		"id: evt_3\nevent: cut\ndata: never dispatched"
	r := NewReader(strings.NewReader(stream))
	m, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, Message{ID: "evt_1", Event: "charge.succeeded", Data: []byte(`{"a":1}`)}, m)
	m, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, Message{ID: "evt_1", Event: "message", Data: []byte("line one\nline two")}, m,
		"the last id carries over; data lines join with newlines")
	_, err = r.Next()
	require.ErrorIs(t, err, io.EOF, "a message cut off by the end is dropped")
}
