// Package webhook is Herald's webhook wire format: the event envelope and
// event types that every delivery carries, the objects events carry
// (CheckoutSession, Charge, WebhookEndpoint, Delivery) with a typed
// decode method each on Event, and the Standard Webhooks signature
// (https://www.standardwebhooks.com) that proves a delivery came from
// Herald. Senders use SetHeaders; receivers use a Verifier built from their
// whsec_ signing secret.
//
// The objects are also the types Herald's Go client returns, so a session
// from the API and one from a webhook are the same value.
//
// It depends on the standard library only and supports Go 1.23 and later,
// so merchants can import it without pulling in Herald's server.
package webhook
