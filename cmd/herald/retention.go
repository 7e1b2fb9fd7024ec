package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/delivery"
)

// defaultPruneInterval is how often the pruner starts unless
// HERALD_PRUNE_INTERVAL says otherwise.
const defaultPruneInterval = 10 * time.Minute

// River's own retention of finished jobs, when not configured.
const (
	riverCompletedRetention = 24 * time.Hour
	riverCancelledRetention = 24 * time.Hour
	riverDiscardedRetention = 7 * 24 * time.Hour
)

// parseRetention reads HERALD_RETENTION: a Go duration ("720h") or whole
// days ("30d"); "0" keeps everything.
func parseRetention(dst *time.Duration) func(string) error {
	return func(v string) error {
		var d time.Duration
		var err error
		if days, ok := strings.CutSuffix(v, "d"); ok {
			var n int
			n, err = strconv.Atoi(days)
			d = time.Duration(n) * 24 * time.Hour
		} else {
			d, err = time.ParseDuration(v)
		}
		if err != nil || d < 0 {
			return errors.New("want a duration like 720h or 30d, or 0 to keep everything")
		}
		if err := delivery.ValidateRetention(d); err != nil {
			return err
		}
		*dst = d
		return nil
	}
}

// limitRiverRetention keeps River's finished jobs (one per delivery
// attempt chain) no longer than Herald keeps the deliveries themselves:
// River's defaults, or the retention when that is shorter. Keeping
// everything (0) leaves River's defaults.
func limitRiverRetention(cfg *river.Config, keep time.Duration) {
	if keep == 0 {
		return
	}
	cfg.CompletedJobRetentionPeriod = min(riverCompletedRetention, keep)
	cfg.CancelledJobRetentionPeriod = min(riverCancelledRetention, keep)
	cfg.DiscardedJobRetentionPeriod = min(riverDiscardedRetention, keep)
}
