package dashboardpg

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/dashboard"
)

// ListMerchants implements dashboard.ReadModel.
func (s *Store) ListMerchants(ctx context.Context, limit int) ([]dashboard.Merchant, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name FROM merchants ORDER BY name, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list merchants: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[dashboard.Merchant])
	if err != nil {
		return nil, fmt.Errorf("list merchants: %w", err)
	}
	return list, nil
}

// ListRedrives implements dashboard.ReadModel.
func (s *Store) ListRedrives(ctx context.Context, limit int) ([]dashboard.RedriveRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.id, r.merchant_id, r.filter, r.status, r.matched, r.enqueued, r.created_at,
		r.completed_at, m.name FROM redrives r JOIN merchants m ON m.id = r.merchant_id
		ORDER BY r.created_at DESC, r.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list redrives: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dashboard.RedriveRow, error) {
		var r dashboard.RedriveRow
		var filter []byte
		if err := row.Scan(&r.ID, &r.MerchantID, &filter, &r.Status, &r.Matched, &r.Enqueued, &r.Created, &r.Completed,
			&r.MerchantName); err != nil {
			return r, err
		}
		if err := json.Unmarshal(filter, &r.Filter); err != nil {
			return r, fmt.Errorf("decode redrive filter: %w", err)
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list redrives: %w", err)
	}
	return list, nil
}

// RedriveMerchant implements dashboard.ReadModel.
func (s *Store) RedriveMerchant(ctx context.Context, redriveID string) (dashboard.Merchant, error) {
	var m dashboard.Merchant
	err := s.pool.QueryRow(ctx, `SELECT m.id, m.name FROM redrives r JOIN merchants m ON m.id = r.merchant_id
		WHERE r.id = $1`, redriveID).Scan(&m.ID, &m.Name)
	if err != nil {
		return m, notFound(err, "find redrive")
	}
	return m, nil
}
