package deliverynet

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
)

// guardCase is an address and whether a guard lets it through.
type guardCase struct {
	addr    string
	allowed bool
}

// requireGuard checks each address against g, in a subtest named after it:
// an allowed one passes; a refused one fails with ErrSSRFBlocked, and the
// error names the address.
func requireGuard(t *testing.T, g *Guard, cases []guardCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()

			ip := netip.MustParseAddr(tt.addr)
			err := g.Check(ip)
			if tt.allowed {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, delivery.ErrSSRFBlocked)
			require.ErrorContains(t, err, ip.WithZone("").String(), "the error names the address")
		})
	}
}

func TestGuardCheckDefault(t *testing.T) {
	t.Parallel()

	g := NewGuard(nil)
	tests := []guardCase{
		// IPv4 refused ranges, with both ends where it matters.
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"10.255.255.255", false},
		{"100.64.0.1", false},
		{"100.100.100.200", false}, // Alibaba Cloud metadata, inside CGNAT
		{"100.127.255.254", false},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"169.254.0.1", false},
		{"169.254.169.254", false}, // AWS/GCP/Azure metadata
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.0.0.8", false},
		{"192.0.0.192", false}, // Oracle Cloud metadata
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		// IPv4 public, including the neighbours of refused ranges.
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"9.255.255.255", true},
		{"11.0.0.0", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"172.15.255.255", true},
		{"172.32.0.0", true},
		{"192.167.255.255", true},
		{"192.169.0.0", true},
		{"198.17.255.255", true},
		{"198.20.0.0", true},
		{"223.255.255.255", true},
		// IPv6 refused ranges.
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false}, // a zone must not hide the address from the prefixes
		{"febf:ffff::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false}, // AWS metadata over IPv6
		{"ff02::1", false},
		{"ff05::1:3", false},
		{"2001:db8::1", false},
		{"3fff::1", false},
		{"2001::1", false},
		{"100::1", false},
		{"fec0::1", false},
		{"64:ff9b:1::1", false},
		// IPv6 embedding a refused IPv4 address.
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:0.0.0.0", false},
		{"::127.0.0.1", false},        // IPv4-compatible
		{"64:ff9b::10.0.0.1", false},  // NAT64 of a private address
		{"64:ff9b::7f00:1", false},    // NAT64 of loopback
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of the metadata address
		{"2002:7f00:1::1", false},     // 6to4 of loopback
		{"2002:c0a8:101::1", false},   // 6to4 of 192.168.1.1
		{"::ffff:255.255.255.255", false},
		// IPv6 public, and IPv6 embedding a public IPv4 address.
		{"2606:4700::1111", true},
		{"2001:4860:4860::8888", true},
		{"2a00:1450:4001::1", true},
		{"::ffff:93.184.216.34", true},
		{"64:ff9b::93.184.216.34", true},
		{"2002:5db8:d822::1", true},
	}
	requireGuard(t, g, tests)
}

func TestGuardCheckAllowList(t *testing.T) {
	t.Parallel()

	g := NewGuard([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("::ffff:192.168.7.0/120"), // IPv4-mapped: means 192.168.7.0/24
		netip.MustParsePrefix("172.16.9.9/16"),          // host bits set: masked to 172.16.0.0/16
	})
	tests := []guardCase{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"64:ff9b::10.1.2.3", true},
		{"127.0.0.1", true},
		{"127.0.0.2", false},
		{"::1", true},
		{"fd00::2", true},
		{"fc00::2", false},
		{"192.168.7.20", true},
		{"192.168.8.20", false},
		{"172.16.200.1", true},
		{"172.17.0.1", false},
		{"169.254.169.254", false},
		{"93.184.216.34", true},
	}
	requireGuard(t, g, tests)
}

func TestGuardFailsClosed(t *testing.T) {
	t.Parallel()

	public := netip.MustParseAddr("93.184.216.34")
	tests := []struct {
		name  string
		guard *Guard
		addr  netip.Addr
	}{
		{"zero Guard", &Guard{}, public},
		{"nil Guard", nil, public},
		{"invalid address", NewGuard(nil), netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.ErrorIs(t, tt.guard.Check(tt.addr), delivery.ErrSSRFBlocked)
		})
	}
}

func TestGuardCopiesAllowList(t *testing.T) {
	t.Parallel()

	allow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	g := NewGuard(allow)
	allow[0] = netip.MustParsePrefix("192.168.0.0/16")
	require.NoError(t, g.Check(netip.MustParseAddr("10.0.0.1")))
	require.Error(t, g.Check(netip.MustParseAddr("192.168.0.1")))
}

func TestParseAllowList(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "blank", in: " \t ", want: nil},
		{name: "bare IPv4", in: "127.0.0.1", want: []string{"127.0.0.1/32"}},
		{name: "bare IPv6", in: "::1", want: []string{"::1/128"}},
		{name: "bare IPv4-mapped", in: "::ffff:10.0.0.1", want: []string{"10.0.0.1/32"}},
		{name: "prefixes", in: "10.0.0.0/8,192.168.0.0/16", want: []string{"10.0.0.0/8", "192.168.0.0/16"}},
		{name: "whitespace", in: " 10.0.0.0/8 ,\t127.0.0.1 ", want: []string{"10.0.0.0/8", "127.0.0.1/32"}},
		{name: "empty entries", in: "10.0.0.0/8,, 127.0.0.1,", want: []string{"10.0.0.0/8", "127.0.0.1/32"}},
		{name: "IPv6 prefix", in: "fd00::/8", want: []string{"fd00::/8"}},
		{name: "IPv4-mapped prefix", in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{name: "not an address", in: "10.0.0.0/8, nope", wantErr: `"nope"`},
		{name: "hostname", in: "localhost", wantErr: `"localhost"`},
		{name: "bad prefix length", in: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{name: "host bits set", in: "10.1.2.3/8", wantErr: "did you mean 10.0.0.0/8"},
		{name: "zoned address", in: "fe80::1%eth0", wantErr: `"fe80::1%eth0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseAllowList(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			var want []netip.Prefix
			for _, p := range tt.want {
				want = append(want, netip.MustParsePrefix(p))
			}
			require.Equal(t, want, got)
		})
	}
}

func TestGuardControl(t *testing.T) {
	t.Parallel()

	control := guardControl(NewGuard(nil))
	tests := []struct {
		network, address string
		allowed          bool
	}{
		{"tcp4", "93.184.216.34:443", true},
		{"tcp6", "[2606:4700::1111]:443", true},
		{"tcp4", "127.0.0.1:80", false},
		{"tcp6", "[::1]:80", false},
		{"tcp6", "[fe80::1%eth0]:80", false},
		{"udp4", "93.184.216.34:53", false},
		{"tcp4", "not-an-address", false},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.address, func(t *testing.T) {
			t.Parallel()

			err := control(t.Context(), tt.network, tt.address, nil)
			if tt.allowed {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, delivery.ErrSSRFBlocked)
		})
	}
}
