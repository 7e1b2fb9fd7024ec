package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{" , ", nil, ""},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, ""},
		{"10.1.2.3/8, 192.0.2.7", []string{"10.0.0.0/8", "192.0.2.7/32"}, ""},
		{"fd00::/8,2001:db8::1", []string{"fd00::/8", "2001:db8::1/128"}, ""},
		{"::ffff:192.0.2.7", []string{"192.0.2.7/32"}, ""},
		{"10.0.0.0/33", nil, `"10.0.0.0/33" is neither a CIDR nor an IP address`},
		{"10.0.0.1, proxy.internal", nil, `"proxy.internal" is neither a CIDR nor an IP address`},
		{"fe80::1%eth0", nil, `"fe80::1%eth0" is neither a CIDR nor an IP address`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			got, err := ParseTrustedProxies(tt.in)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			require.Equal(t, tt.want, s)
		})
	}
}

func TestClientAddrOf(t *testing.T) {
	t.Parallel()

	// Two proxies in front of Herald (a CDN edge and the load balancer),
	// one IPv4 and one IPv6 network.
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48")
	require.NoError(t, err)
	for _, tt := range []struct {
		name    string
		trusted TrustedProxies
		remote  string
		xff     []string
		want    string
	}{
		{"no proxy, no header", trusted, "198.51.100.7:5000", nil, "198.51.100.7"},
		{"spoofed header from an untrusted peer is ignored", trusted, "198.51.100.7:5000",
			[]string{"203.0.113.9"}, "198.51.100.7"},
		{"nothing trusted: the header is ignored", nil, "10.0.0.2:5000", []string{"203.0.113.9"}, "10.0.0.2"},
		{"one trusted proxy", trusted, "10.0.0.2:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"chain through two trusted proxies", trusted, "10.0.0.2:5000",
			[]string{"203.0.113.9, 10.0.0.3"}, "203.0.113.9"},
		{"a spoof before the client is ignored", trusted, "10.0.0.2:5000",
			[]string{"192.0.2.1, 203.0.113.9, 10.0.0.3"}, "203.0.113.9"},
		{"the first untrusted hop from the right wins", trusted, "10.0.0.2:5000",
			[]string{"10.9.9.9, 203.0.113.9, 10.0.0.3"}, "203.0.113.9"},
		{"several header lines are one list", trusted, "10.0.0.2:5000",
			[]string{"192.0.2.1, 203.0.113.9", "10.0.0.3"}, "203.0.113.9"},
		{"a trusted proxy without the header is the client", trusted, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"every hop trusted: the leftmost", trusted, "10.0.0.2:5000", []string{"10.0.0.5, 10.0.0.3"}, "10.0.0.5"},
		{"malformed entry stops the walk", trusted, "10.0.0.2:5000",
			[]string{"203.0.113.9, unknown, 10.0.0.3"}, "10.0.0.3"},
		{"empty entry stops the walk", trusted, "10.0.0.2:5000", []string{"203.0.113.9, "}, "10.0.0.2"},
		{"entry with a port", trusted, "10.0.0.2:5000", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"IPv6 client through an IPv6 proxy", trusted, "[2001:db8:ffff::2]:5000",
			[]string{"2001:db8:1:2::7"}, "2001:db8:1:2::7"},
		{"IPv6 client with a port", trusted, "[2001:db8:ffff::2]:5000",
			[]string{"[2001:db8:1:2::7]:4711, 10.0.0.3"}, "2001:db8:1:2::7"},
		{"IPv4 client through an IPv6 proxy", trusted, "[2001:db8:ffff::2]:5000",
			[]string{"203.0.113.9"}, "203.0.113.9"},
		{"IPv6 spoof from an untrusted IPv6 peer", trusted, "[2001:db8:1:2::7]:5000",
			[]string{"2001:db8:ffff::9"}, "2001:db8:1:2::7"},
		{"IPv4-mapped addresses are IPv4", trusted, "[::ffff:10.0.0.2]:5000",
			[]string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"zones are dropped", trusted, "[fe80::1%lo]:5000", nil, "fe80::1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			require.Equal(t, netip.MustParseAddr(tt.want), tt.trusted.ClientAddrOf(r))
		})
	}

	t.Run("unreadable RemoteAddr", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "pipe"
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		require.False(t, trusted.ClientAddrOf(r).IsValid())
	})

	t.Run("a header of trusted hops is read only so far", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.2:5000"
		r.Header.Set("X-Forwarded-For", "203.0.113.9, "+strings.Repeat("10.0.0.3, ", maxForwardedHops)+"10.0.0.3")
		require.Equal(t, netip.MustParseAddr("10.0.0.3"), trusted.ClientAddrOf(r))
	})
}

// ClientAddr answers what the middleware worked out, and the connection's
// address without it.
func TestClientAddrMiddleware(t *testing.T) {
	t.Parallel()

	trusted, err := ParseTrustedProxies("127.0.0.0/8")
	require.NoError(t, err)
	var seen netip.Addr
	h := trusted.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = ClientAddr(r) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.Equal(t, netip.MustParseAddr("203.0.113.9"), seen)

	require.Equal(t, netip.MustParseAddr("127.0.0.1"), ClientAddr(r), "without the middleware: the connection's")
}
