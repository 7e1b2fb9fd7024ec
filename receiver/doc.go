// Package receiver is the merchant's side of Herald webhooks: an
// http.Handler that verifies each request, runs your code for it exactly
// once, and answers so that Herald retries only what truly failed; and a
// Fulfiller that ships an order once per checkout session whether the
// webhook or the customer's return to your success page arrives first.
//
// Delivery is at least once: the same event can arrive several times (a
// timeout on your side, a redrive, several Herald workers). The Store turns
// that into exactly-once processing: pgstore's Store records an event's
// webhook-id in the same database transaction as your fulfilment, so a
// crash between the two can never fulfil twice and never lose the event
// (Herald retries). MemoryStore does the same in memory, for tests.
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
// The package depends on the standard library and Herald's webhook package
// only, and supports Go 1.23 and later. The PostgreSQL store lives in its
// own module, github.com/heraldpay/herald/receiver/pgstore, so that only
// its users depend on pgx.
package receiver
