package migrations

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A server older than PostgreSQL 14 is refused by name before any migration
// runs; 14 and later are accepted.
func TestCheckServer(t *testing.T) {
	t.Parallel()
	err := checkServer("13.18 (Debian 13.18-0+deb11u1)")
	require.EqualError(t, err, "herald needs PostgreSQL 14 or later; this server is 13.18 (Debian 13.18-0+deb11u1)")
	for _, v := range []string{"14.0", "15.18 (Debian 15.18-0+deb12u1)", "17.2"} {
		require.NoError(t, checkServer(v), v)
	}
}

func TestServerMajor(t *testing.T) {
	t.Parallel()

	for version, want := range map[string]int{
		"15.18 (Debian 15.18-0+deb12u1)": 15,
		"14.0":                           14,
		"13.4":                           13,
		"17beta1":                        17,
		"":                               0,
		"unknown":                        0,
	} {
		require.Equal(t, want, ServerMajor(version), version)
	}
}
