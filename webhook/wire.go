package webhook

import "time"

// The API sends times as Unix seconds and null for "never", and null for
// absent optional strings and numbers. The objects of this package expose
// them as time.Time in UTC (zero for null), "" and 0, so callers test IsZero
// or compare with "" instead of dereferencing pointers; their MarshalJSON
// writes the API's JSON back, nulls included, so an object survives being
// stored as JSON and decoded again.

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

// fromNullString converts a nullable wire string; null is "".
func fromNullString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// toNullString converts back to the wire; "" is null.
func toNullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// fromNullInt converts a nullable wire number; null is 0.
func fromNullInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// toNullInt converts back to the wire; 0 is null.
func toNullInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
