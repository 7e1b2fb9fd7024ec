// Package bench holds the measuring side of `herald bench`: a local webhook
// sink that records when each delivery arrives, latency percentiles, and
// the report table (text and JSON). The scenarios themselves live in
// cmd/herald, next to the Herald they start.
package bench

import (
	"slices"
	"time"
)

// Latencies are durations whose percentiles are reported.
type Latencies []time.Duration

// Percentile returns the p-th percentile (0 < p ≤ 100) by the nearest-rank
// method, or 0 for no samples.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}
