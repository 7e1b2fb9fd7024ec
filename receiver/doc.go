// Package receiver is the merchant's side of Herald webhooks: an
// http.Handler that verifies each request, runs your code for it exactly
// once, and answers so that Herald retries only what truly failed; and a
// Fulfiller that ships an order once per checkout session whether the
// webhook or the customer's return to your success page arrives first.
//
// Delivery is at least once: the same event can arrive several times (a
// timeout on your side, a redrive, several Herald workers). The Store turns
// that into exactly-once processing: it records an event's webhook-id in the
// same database transaction as your fulfilment, so a crash between the two
// can never fulfil twice and never lose the event (Herald retries).
//
// # Answers
//
//   - 2xx once your function has returned nil and its work is committed
//     (or the event was already processed, or nobody handles its type);
//   - 400 for malformed requests (missing headers, bad timestamp, body that
//     is not an event) and 401 for a wrong signature or a stale timestamp,
//     so Herald records them as failures without a 5xx;
//   - 500 when your function fails, so Herald retries later.
//
// # Keeping the store small
//
// PostgresStore keeps one row per processed event. Prune deletes the rows
// older than an age you choose; keep them longer than Herald may send an
// event again (its retention, 30 days by default), e.g. with a daily
// store.Prune(ctx, 45*24*time.Hour).
//
// The package depends on the standard library, pgx (for PostgresStore) and
// Herald's webhook package only.
package receiver
