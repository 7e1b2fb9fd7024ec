// Package client is a Go client for Herald's merchant API: checkout
// sessions, webhook endpoints, events, deliveries with their attempts, and
// redrives. It depends on the standard library and Herald's webhook package
// only, and supports Go 1.23 and later.
//
// Create one Client per secret key and share it; it is safe for concurrent
// use. Its fields group the API by resource (Sessions, Endpoints, Events,
// Deliveries, Redrives):
//
//	herald := client.New("https://api.herald.example", os.Getenv("HERALD_KEY"))
//	sess, err := herald.Sessions.Create(ctx, client.CreateSessionParams{
//		LineItems:  []client.LineItemParams{{Name: "Notebook", UnitAmount: 1500, Quantity: 2}},
//		Currency:   "usd",
//		SuccessURL: "https://shop.example/thanks?session_id=" + client.SessionIDPlaceholder,
//		CancelURL:  "https://shop.example/cart",
//	}, client.WithIdempotencyKey("order-1001"))
//	if err != nil { … }
//	http.Redirect(w, r, sess.URL, http.StatusSeeOther)
//
// Fulfil orders from the checkout.session.completed webhook, not from the
// customer's return to SuccessURL, which a closed tab never reaches.
//
// # Lists
//
// Each List method returns an iterator over the whole list that fetches
// pages as the loop goes on, and stops fetching when the loop stops:
//
//	for ev, err := range herald.Events.List(ctx, client.EventListParams{DeliverySuccess: client.Bool(false)}) {
//		if err != nil { … } // the iteration ends after an error
//		…
//	}
//
// Page fetches one page instead, for callers that keep their own cursor.
//
// # One type per object
//
// The objects are the webhook package's types (CheckoutSession is
// webhook.CheckoutSession, and so on): the session the API returns is the
// value a checkout.session.completed webhook carries, so the receiver's
// Fulfiller takes either.
//
// # Retries and idempotency
//
// A request is retried, up to WithMaxRetries times (default 2), when the
// answer is 429, 500, 502, 503 or 504, when a retried POST finds its first
// attempt still running (409 idempotency_key_in_use), or when no answer came
// (refused or reset connection, timeout). The wait is the answer's
// Retry-After (seconds or an HTTP date, at most 60s) or else the backoff
// (see WithBackoff). Cancelling the context ends the wait at once.
//
// Only requests that cannot act twice are retried: GET and DELETE always,
// POST and PATCH only with an Idempotency-Key. Every POST gets one: a
// random 32-character key unless WithIdempotencyKey supplies yours. Retries
// re-send the same body with the same key, and Herald answers a repeat with
// the first answer, so a retried create never creates twice. Prefer your
// own key (an order id) for creates: it also protects against your process
// retrying after a crash.
//
// # Errors
//
// An error answer is an *Error with the HTTP status, the API's type, code,
// message and parameter, and the Request-Id to quote to support. Other
// failures (network, a cancelled context) are returned wrapped, so
// errors.Is and errors.As see through them. Errors never contain the secret
// key.
//
// # Representation
//
// Objects mirror the API's JSON field for field. The API sends times as Unix
// seconds: they are time.Time here, in UTC. It sends null for absent
// optional values: strings are then "", times are zero (IsZero) and
// CheckoutSession.Payment is nil. The objects' MarshalJSON writes the API's
// JSON back (Unix seconds, zero times as null), so they can be stored and
// decoded again.
package client
