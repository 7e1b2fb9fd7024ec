// Package portal is the merchant portal: a server-rendered page, opened
// with a one-hour link that a merchant's backend asks for
// (POST /v1/portal_sessions), where the merchant's own staff see their
// webhook endpoints and their health, the deliveries with every attempt,
// and redrive one, send what a disabled endpoint missed, roll a secret or
// send a test event — the merchant-facing sibling of Svix's App Portal
// and Convoy's portal links.
//
// The link is the credential: /portal/{token}/…, a random token of which
// only a digest is stored, scoped to one merchant and expiring an hour
// after it was made. Every read and action goes through the delivery
// services with that merchant's id, so another merchant's ids are unknown
// ids (404). Pages carry no script; forms are protected by
// http.CrossOriginProtection and the session's own form token; the token
// never leaves in a Referer.
package portal
