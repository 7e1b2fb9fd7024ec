// Package webhook is Herald's webhook wire format: the event envelope and
// event types that every delivery carries.
//
// It depends on the standard library only, so merchants can import it
// without pulling in Herald's server.
package webhook
