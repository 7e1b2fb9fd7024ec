// Package webhook is Herald's webhook wire format: the event envelope and
// event types that every delivery carries, and the Standard Webhooks
// signature (https://www.standardwebhooks.com) that proves a delivery came
// from Herald. Senders use SetHeaders; receivers use a Verifier built from
// their whsec_ signing secret.
//
// It depends on the standard library only, so merchants can import it
// without pulling in Herald's server.
package webhook
