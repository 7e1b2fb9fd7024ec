package deliverypg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
)

var _ delivery.EventFeed = (*Service)(nil)

// FeedHead implements delivery.EventFeed: the merchant's newest event, one
// descent of events_merchant_seq.
func (s *Service) FeedHead(ctx context.Context, merchantID string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM events WHERE merchant_id = $1`, merchantID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("read feed head: %w", err)
	}
	return seq, nil
}

// FeedPosition implements delivery.EventFeed.
func (s *Service) FeedPosition(ctx context.Context, merchantID, eventID string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM events WHERE id = $1 AND merchant_id = $2`, eventID, merchantID).Scan(&seq)
	if err != nil {
		return 0, notFound(err, "read feed position")
	}
	return seq, nil
}

// ReadFeed implements delivery.EventFeed: one range of events_merchant_seq.
func (s *Service) ReadFeed(ctx context.Context, merchantID string, after int64, skip []int64, types []string, limit int) ([]delivery.FeedEvent, error) {
	// Empty arrays, not NULL: "<> ALL (NULL)" is never true.
	if skip == nil {
		skip = []int64{}
	}
	if types == nil {
		types = []string{}
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, id, type, body::text FROM events
		WHERE merchant_id = $1 AND seq > $2 AND seq <> ALL ($3::bigint[]) AND (cardinality($4::text[]) = 0 OR type = ANY ($4::text[]))
		ORDER BY seq LIMIT $5`, merchantID, after, skip, types, limit)
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.FeedEvent, error) {
		var ev delivery.FeedEvent
		var body string
		err := row.Scan(&ev.Seq, &ev.ID, &ev.Type, &body)
		ev.Body = []byte(body)
		return ev, err
	})
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	return list, nil
}
