// Package delivery is the core of Herald's webhook engine: endpoints and
// their subscriptions, the retry schedule, the decision taken after each
// attempt, and the per-endpoint circuit breakers. It does no I/O; the
// Postgres side (fan-out, the River worker, redrive) is in deliverypg, the
// outbound HTTP side (signing on the wire, the SSRF guard) in deliverynet.
package delivery
