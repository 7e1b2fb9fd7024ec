package client

import "time"

// The API sends times as Unix seconds, and null for "never". The client
// exposes them as time.Time in UTC, with the zero time for null, so callers
// test IsZero instead of dereferencing pointers.

// fromUnix converts a wire time; nil (null) is the zero time.
func fromUnix(secs *int64) time.Time {
	if secs == nil {
		return time.Time{}
	}
	return time.Unix(*secs, 0).UTC()
}

// toUnix converts back to the wire; the zero time is null.
func toUnix(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	secs := t.Unix()
	return &secs
}
