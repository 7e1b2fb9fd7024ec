package idempotency

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/internal/seal"
)

// Reseal re-seals under the Box's current key every stored response sealed
// under another key, batch keys at a time (herald secrets rotate). It runs
// online: a response is written back only if it is still the one read, so
// a key deleted or claimed again meanwhile is left alone (counted as
// Changed). Running it again after it is done changes nothing.
func (s *Store) Reseal(ctx context.Context, batch int) (seal.Tally, error) {
	var t seal.Tally
	prefix := []byte(s.box.CurrentPrefix())
	var afterMerchant, afterKey string
	for {
		type row struct {
			merchantID, key string
			sealed          []byte
		}
		rows, err := s.pool.Query(ctx, `SELECT merchant_id, key, response_body FROM idempotency_keys
			WHERE (merchant_id, key) > ($1, $2) AND response_body IS NOT NULL
				AND substring(response_body FOR length($3::bytea)) <> $3::bytea
			ORDER BY merchant_id, key LIMIT $4`, afterMerchant, afterKey, prefix, batch)
		if err != nil {
			return t, fmt.Errorf("read sealed idempotent responses: %w", err)
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.merchantID, &x.key, &x.sealed)
		})
		if err != nil {
			return t, fmt.Errorf("read sealed idempotent responses: %w", err)
		}
		if len(list) == 0 {
			return t, nil
		}
		b := &pgx.Batch{}
		for _, r := range list {
			afterMerchant, afterKey = r.merchantID, r.key
			if v, ok := t.Reseal(s.box, string(r.sealed), sealContext(r.merchantID, r.key)); ok {
				b.Queue(`UPDATE idempotency_keys SET response_body = $3 WHERE merchant_id = $1 AND key = $2 AND response_body = $4`,
					r.merchantID, r.key, []byte(v), r.sealed)
			}
		}
		br := s.pool.SendBatch(ctx, b)
		for range b.Len() {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return t, fmt.Errorf("re-seal idempotent responses: %w", err)
			}
			t.Written(tag.RowsAffected() == 1)
		}
		if err := br.Close(); err != nil {
			return t, fmt.Errorf("re-seal idempotent responses: %w", err)
		}
		if len(list) < batch {
			return t, nil
		}
	}
}
