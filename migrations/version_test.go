package migrations

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A server older than PostgreSQL 14 is refused by name before any migration
// runs; 14 and later are accepted.
func TestCheckServer(t *testing.T) {
	t.Parallel()
	err := checkServer(130018, "13.18 (Debian 13.18-0+deb11u1)")
	require.EqualError(t, err, "herald needs PostgreSQL 14 or later; this server is 13.18 (Debian 13.18-0+deb11u1)")
	for _, v := range []int{140000, 150018, 170002} {
		require.NoError(t, checkServer(v, "ok"), v)
	}
}
