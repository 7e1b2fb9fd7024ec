// Package pgstore is the PostgreSQL receiver.Store: it records each
// processed webhook-id (and each fulfilled session) in a table of yours, in
// the same transaction as your own writes, so that an event is acted on
// exactly once even across crashes, retries and several processes.
//
//	store, err := pgstore.New(pool, "shop.herald_once")
//	if err != nil { … }
//	if err := store.CreateTable(ctx); err != nil { … }
//	fulfiller := receiver.NewFulfiller(store, func(ctx context.Context, s *webhook.CheckoutSession, via string) error {
//		tx, _ := pgstore.TxFromContext(ctx) // the order commits with the dedup mark, or neither does
//		_, err := tx.Exec(ctx, `UPDATE orders SET status = 'paid' WHERE id = $1`, s.ClientReferenceID)
//		return err
//	})
//
// # Keeping the store small
//
// The store keeps one row per processed event. Prune deletes the rows
// older than an age you choose; keep them longer than Herald may send an
// event again (its retention, 30 days by default), e.g. with a daily
// store.Prune(ctx, 45*24*time.Hour).
//
// It is its own Go module, so that only its users depend on pgx. It
// supports Go 1.23 and pgx v5.7.6 or later; take the newest pgx your Go
// allows (v5.12 and later carry security fixes and need Go 1.25).
package pgstore
