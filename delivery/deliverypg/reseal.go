package deliverypg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/internal/seal"
)

// ResealSecrets re-seals under box's current key every endpoint
// signing secret (current and previous, deleted endpoints' too) sealed
// under another key, batch endpoints at a time: the second half of a key
// rotation (herald secrets rotate), after which the old key can leave the
// keyring.
//
// It runs online. Each batch is one short statement per value, written
// only if the value is still the one that was read, so a secret rolled
// meanwhile keeps its roll (counted as Changed; the roll sealed it under
// the current key, and moved the old one to previous, which a next pass
// re-seals). Running it again after it is done changes nothing.
func ResealSecrets(ctx context.Context, pool *pgxpool.Pool, box *seal.Box, batch int) (seal.Tally, error) {
	var t seal.Tally
	prefix := box.CurrentPrefix()
	after := ""
	for {
		type row struct {
			id       string
			current  string
			previous *string
		}
		rows, err := pool.Query(ctx, `SELECT id, secret_sealed, previous_secret_sealed FROM webhook_endpoints
			WHERE id > $1 AND (left(secret_sealed, length($2)) <> $2 OR left(previous_secret_sealed, length($2)) <> $2)
			ORDER BY id LIMIT $3`, after, prefix, batch)
		if err != nil {
			return t, fmt.Errorf("read sealed endpoint secrets: %w", err)
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.current, &x.previous)
		})
		if err != nil {
			return t, fmt.Errorf("read sealed endpoint secrets: %w", err)
		}
		if len(list) == 0 {
			return t, nil
		}
		b := &pgx.Batch{}
		for _, r := range list {
			after = r.id
			if !box.IsCurrent(r.current) {
				if v, ok := t.Reseal(box, r.current, r.id); ok {
					b.Queue(`UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1 AND secret_sealed = $3`, r.id, v, r.current)
				}
			}
			if r.previous != nil && !box.IsCurrent(*r.previous) {
				if v, ok := t.Reseal(box, *r.previous, r.id); ok {
					b.Queue(`UPDATE webhook_endpoints SET previous_secret_sealed = $2 WHERE id = $1 AND previous_secret_sealed = $3`,
						r.id, v, *r.previous)
				}
			}
		}
		if err := countWrites(pool.SendBatch(ctx, b), b.Len(), &t); err != nil {
			return t, fmt.Errorf("re-seal endpoint secrets: %w", err)
		}
		if len(list) < batch {
			return t, nil
		}
	}
}

// countWrites reads the n results of a batch of compare-and-set updates
// into t.
func countWrites(br pgx.BatchResults, n int, t *seal.Tally) error {
	for range n {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return err
		}
		t.Written(tag.RowsAffected() == 1)
	}
	return br.Close()
}
