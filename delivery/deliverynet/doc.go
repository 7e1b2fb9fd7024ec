// Package deliverynet is the outbound HTTP side of webhook delivery: a
// Sender that POSTs one signed event to a merchant endpoint and describes
// the outcome as a delivery.AttemptResult, and the SSRF Guard that decides,
// at dial time, which addresses that POST may connect to.
//
// The guard runs in the dialer on the address actually being connected to,
// after DNS resolution, so a hostname that resolves (or re-resolves, as in
// DNS rebinding) to a loopback, private, link-local or metadata address is
// refused no matter how the URL was written. Proxies are disabled and
// redirects are never followed, so neither can route a request around it.
package deliverynet
