package deliverynet

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/heraldpay/herald/delivery"
)

// Guard decides which IP addresses the Sender may connect to. It refuses
// every address that is not globally reachable unicast (loopback, private,
// link-local and cloud metadata, CGNAT, multicast, reserved, documentation…)
// unless the address is inside one of the operator's allowed prefixes.
//
// IPv6 addresses that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d,
// IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16) are also
// judged by the embedded address, since that is where the packets end up.
//
// A Guard is immutable after NewGuard and safe for concurrent use. The zero
// Guard refuses everything: failing closed is the only safe reading of a
// guard that was never built.
type Guard struct {
	allow   []netip.Prefix
	blocked []blockedRange
}

// blockedRange is a refused prefix and the reason given in the error.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// NewGuard returns a Guard that lets addresses inside allow through even if
// they would otherwise be refused. allow comes from
// HERALD_ALLOW_PRIVATE_ENDPOINTS (see ParseAllowList) and is empty in
// production. The slice is copied.
func NewGuard(allow []netip.Prefix) *Guard {
	g := &Guard{blocked: blockedRanges()}
	for _, p := range allow {
		g.allow = append(g.allow, normalizePrefix(p))
	}
	return g
}

// Check returns nil if ip may be dialed, or an error that wraps
// delivery.ErrSSRFBlocked and names ip and the range that refused it.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("invalid address: %w", delivery.ErrSSRFBlocked)
	}
	if g == nil || g.blocked == nil {
		return fmt.Errorf("%s: guard not built with NewGuard: %w", ip, delivery.ErrSSRFBlocked)
	}
	// A zoned address (fe80::1%eth0) never matches a netip.Prefix, so the
	// zone must go before any comparison or it would slip through.
	ip = ip.WithZone("")
	forms := addressForms(ip)
	for _, f := range forms {
		if g.allowed(f) {
			return nil
		}
	}
	for _, f := range forms {
		if r, ok := g.refusal(f); ok {
			return refusalError(ip, f, r)
		}
	}
	return nil
}

func (g *Guard) allowed(ip netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (g *Guard) refusal(ip netip.Addr) (blockedRange, bool) {
	for _, r := range g.blocked {
		if r.prefix.Contains(ip) {
			return r, true
		}
	}
	return blockedRange{}, false
}

func refusalError(ip, form netip.Addr, r blockedRange) error {
	if form == ip {
		return fmt.Errorf("%s is %s (%s): %w", ip, r.reason, r.prefix, delivery.ErrSSRFBlocked)
	}
	return fmt.Errorf("%s embeds %s, which is %s (%s): %w", ip, form, r.reason, r.prefix, delivery.ErrSSRFBlocked)
}

// addressForms returns ip followed by the IPv4 address it embeds, if any:
// IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses,
// NAT64 well-known-prefix addresses (64:ff9b::a.b.c.d) and 6to4 addresses
// (2002:aabb:ccdd::/48) all reach the embedded IPv4 address in the end.
func addressForms(ip netip.Addr) []netip.Addr {
	if !ip.Is6() {
		return []netip.Addr{ip}
	}
	b := ip.As16()
	high := [12]byte(b[:12])
	switch {
	case ip.Is4In6(), high == [12]byte{}, high == [12]byte{0x00, 0x64, 0xff, 0x9b}:
		return []netip.Addr{ip, netip.AddrFrom4([4]byte(b[12:16]))}
	case b[0] == 0x20 && b[1] == 0x02:
		return []netip.Addr{ip, netip.AddrFrom4([4]byte(b[2:6]))}
	}
	return []netip.Addr{ip}
}

// blockedRanges lists the refused ranges, most specific first where they
// nest so the error gives the most precise reason. It follows the IANA
// special-purpose address registries: anything not globally reachable is
// refused. Documentation ranges are refused too: no real endpoint lives
// there, so refusing them costs nothing and keeps the rule simple ("only
// globally reachable unicast").
//
// It is a function rather than a package variable so that no caller can
// alter the table every Guard relies on.
func blockedRanges() []blockedRange {
	table := []struct{ prefix, reason string }{
		// IPv4.
		{"0.0.0.0/8", "unspecified (\"this network\")"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared address space (CGNAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata)"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation (TEST-NET-1)"},
		{"192.88.99.0/24", "deprecated 6to4 relay anycast"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation (TEST-NET-2)"},
		{"203.0.113.0/24", "documentation (TEST-NET-3)"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		// IPv6. IPv4-mapped, IPv4-compatible, NAT64 and 6to4 addresses are
		// not refused as such: addressForms has them judged by the IPv4
		// address they embed.
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001::/32", "Teredo tunnelling"},
		{"2001:2::/48", "benchmarking"},
		{"2001:10::/28", "ORCHID"},
		{"2001:20::/28", "ORCHIDv2"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"5f00::/16", "segment routing (SRv6) SIDs"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "deprecated site-local"},
		{"ff00::/8", "multicast"},
	}
	ranges := make([]blockedRange, len(table))
	for i, r := range table {
		ranges[i] = blockedRange{prefix: netip.MustParsePrefix(r.prefix), reason: r.reason}
	}
	return ranges
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix into the
// IPv4 prefix it means, since the dialer hands the guard IPv4 addresses in
// their 4-byte form.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// ParseAllowList parses HERALD_ALLOW_PRIVATE_ENDPOINTS: comma-separated
// CIDR prefixes or bare IP addresses (a bare address allows just itself).
// Whitespace around entries and empty entries are ignored; a string with no
// entries gives nil. A prefix with host bits set ("10.1.2.3/8") is refused
// rather than silently widened: on a security setting a typo must not allow
// more than was meant.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseAllowEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("allow list entry %q: %w", entry, err)
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

func parseAllowEntry(entry string) (netip.Prefix, error) {
	if !strings.Contains(entry, "/") {
		ip, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix: %w", err)
		}
		if ip.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zoned addresses are not supported")
		}
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(entry)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("host bits set, did you mean %s?", p.Masked())
	}
	return normalizePrefix(p), nil
}
