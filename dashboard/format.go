package dashboard

import (
	"fmt"
	"math"
	"time"
)

// The template functions that make figures and times readable at a glance.

// formatTime shows a time in UTC to the second.
func formatTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05") + " UTC"
	case *time.Time:
		if v == nil {
			return "—"
		}
		return formatTime(*v)
	}
	return fmt.Sprint(t)
}

// relative says how long ago (or until when) t is, roughly.
func relative(t any, now time.Time) string {
	var at time.Time
	switch v := t.(type) {
	case time.Time:
		at = v
	case *time.Time:
		if v == nil {
			return "never"
		}
		at = *v
	}
	if at.IsZero() {
		return "never"
	}
	d := now.Sub(at)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// formatDuration shows a latency with sensible precision.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 ms"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 2*time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// ratio is part / whole, or -1 when whole is 0.
func ratio(part, whole int) float64 {
	if whole == 0 {
		return -1
	}
	return float64(part) / float64(whole)
}

// formatRate shows a ratio as a percentage; a negative one has no data.
func formatRate(r float64) string {
	switch {
	case r < 0:
		return "—"
	case r == 1:
		return "100%"
	case r >= 0.999:
		// Never round a failure up to a perfect score.
		return "99.9%"
	}
	return fmt.Sprintf("%.1f%%", math.Floor(r*1000)/10)
}

// rateTone colours a success rate: good, warn or bad (none without data).
func rateTone(r float64) string {
	switch {
	case r < 0:
		return "none"
	case r >= 0.99:
		return "good"
	case r >= 0.9:
		return "warn"
	}
	return "bad"
}

// formatCount groups thousands: 12,345.
func formatCount(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + formatCount(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// plural picks the singular or plural word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatSpan says a rule's window the way people say it: "10 minutes",
// "1 hour".
func formatSpan(d time.Duration) string {
	unit := func(n int64, one string) string {
		return fmt.Sprintf("%d %s", n, plural(int(n), one, one+"s"))
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return formatDuration(d)
}
