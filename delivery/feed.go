package delivery

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// FeedEvent is an event as the live event stream sends it: its body byte
// for byte as delivered, and its position in the event log.
type FeedEvent struct {
	// Seq orders the event log. It is assigned when an event is written and
	// becomes visible when its transaction commits, so a lower Seq can
	// appear after a higher one (FeedWindow deals with that).
	Seq  int64
	ID   string
	Type string
	Body json.RawMessage
}

// EventFeed reads a merchant's event log in Seq order, for the live
// stream. Every method is scoped to one merchant.
type EventFeed interface {
	// FeedHead returns a Seq at or above the merchant's newest event: a
	// stream that starts now sends what comes after it.
	FeedHead(ctx context.Context, merchantID string) (int64, error)
	// FeedPosition returns the Seq of one of the merchant's events, to
	// resume after it. Errors: ErrNotFound.
	FeedPosition(ctx context.Context, merchantID, eventID string) (int64, error)
	// ReadFeed returns up to limit of the merchant's events with Seq above
	// after and not in skip, of the given types (all when empty), in Seq
	// order.
	ReadFeed(ctx context.Context, merchantID string, after int64, skip []int64, types []string, limit int) ([]FeedEvent, error)
}

// FeedWindow follows an event log whose positions can become visible out
// of order: a transaction that took Seq 7 may commit after one that took
// Seq 8. It reads everything above a settled position, skipping what it has
// already sent, and settles past a position once Lag has passed since it
// was sent, so an event that commits up to Lag late is still sent, once.
// An event whose transaction commits later than that is not (the events
// list's filters find it).
type FeedWindow struct {
	// Lag is how long a late commit is waited for.
	Lag time.Duration
	// MaxPending settles early once this many sent events are remembered,
	// bounding memory and the size of each read. Default 1000.
	MaxPending int

	settled int64
	sent    map[int64]time.Time
}

// NewFeedWindow returns a window that sends what comes after Seq from.
func NewFeedWindow(from int64, lag time.Duration) *FeedWindow {
	return &FeedWindow{Lag: lag, MaxPending: 1000, settled: from, sent: map[int64]time.Time{}}
}

// Read returns the arguments of the next ReadFeed: read above after,
// skipping skip.
func (w *FeedWindow) Read() (after int64, skip []int64) {
	return w.settled, slices.Sorted(maps.Keys(w.sent))
}

// Sent records that the event at seq was sent at now.
func (w *FeedWindow) Sent(seq int64, now time.Time) {
	if seq > w.settled {
		w.sent[seq] = now
	}
}

// Settle moves the settled position past every event sent more than Lag
// before now (or past the oldest ones while more than MaxPending are
// remembered), forgetting them: gaps below it are no longer waited for.
func (w *FeedWindow) Settle(now time.Time) {
	seqs := slices.Sorted(maps.Keys(w.sent))
	for i, seq := range seqs {
		if now.Sub(w.sent[seq]) < w.Lag && len(seqs)-i <= w.MaxPending {
			break
		}
		w.settled = seq
		delete(w.sent, seq)
	}
}
