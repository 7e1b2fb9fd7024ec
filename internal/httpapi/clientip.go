package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Herald needs its clients' addresses for the fraud rules, the API's
// failed-authentication limit, the dashboard's sign-in limit and its audit
// log. Behind a load balancer the connection comes from the balancer, and
// the client's address arrives in X-Forwarded-For, which anyone can also
// send: so the header is believed only as far as it was written by proxies
// the operator named (HERALD_TRUSTED_PROXIES).

// maxForwardedHops bounds how many X-Forwarded-For entries are looked at:
// real chains have a handful of proxies, and a header stuffed with trusted
// addresses must not cost more than that.
const maxForwardedHops = 32

// TrustedProxies are the networks whose X-Forwarded-For entries are
// believed. The zero value trusts nobody: the client is the connection's
// address.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads a comma-separated list of CIDRs or single
// addresses, e.g. "10.0.0.0/8, 192.0.2.7, fd00::/8". Empty trusts nobody.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var out TrustedProxies
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", part)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Trusts reports whether a is the address of a trusted proxy.
func (t TrustedProxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddrOf works out the client's address: starting from the
// connection's, each trusted hop is replaced by the address it says it
// received the request from (X-Forwarded-For, read right to left, where
// every proxy appends its peer). The first untrusted address is the
// client; whatever an untrusted party wrote further left is ignored. An
// entry that is not an address stops the walk at the last address known.
// It returns the zero Addr only when RemoteAddr itself is unreadable.
func (t TrustedProxies) ClientAddrOf(r *http.Request) netip.Addr {
	addr := remoteAddr(r)
	if !addr.IsValid() || len(t) == 0 {
		return addr
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxForwardedHops && t.Trusts(addr); i-- {
		next, ok := parseForwarded(hops[i])
		if !ok {
			break
		}
		addr = next
	}
	return addr
}

// forwardedFor splits the X-Forwarded-For header lines into their entries,
// in order: several lines are one list, as RFC 9110 says of repeated
// fields.
func forwardedFor(lines []string) []string {
	var hops []string
	for _, line := range lines {
		for entry := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(entry))
		}
	}
	return hops
}

// parseForwarded reads one X-Forwarded-For entry: an address, or, as some
// balancers write it, an address with a port ("192.0.2.7:4711",
// "[2001:db8::7]:4711").
func parseForwarded(entry string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(entry); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(entry); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// remoteAddr is the address of the connection r came on.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().WithZone("").Unmap()
}

// Middleware works out each request's client address once, for ClientAddr.
// Herald mounts it in front of everything.
func (t TrustedProxies) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), clientAddrKey, t.ClientAddrOf(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientAddr returns the client's address: the one TrustedProxies.Middleware
// worked out, or, without it, the connection's. Every use of the client's
// address (fraud rules, rate limits, sign-in limits, audit log) goes
// through it.
func ClientAddr(r *http.Request) netip.Addr {
	if a, ok := r.Context().Value(clientAddrKey).(netip.Addr); ok {
		return a
	}
	return remoteAddr(r)
}
