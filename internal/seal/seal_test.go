package seal

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()

	box, err := New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	sealed := box.Seal("whsec_secret", "we_1")
	require.True(t, strings.HasPrefix(sealed, "v1."))
	require.NotContains(t, sealed, "whsec_secret")
	require.NotEqual(t, sealed, box.Seal("whsec_secret", "we_1"), "a fresh nonce every time")

	plain, err := box.Open(sealed, "we_1")
	require.NoError(t, err)
	require.Equal(t, "whsec_secret", plain)

	_, err = box.Open(sealed, "we_2")
	require.ErrorIs(t, err, ErrOpen, "bound to its context")
	other, err := New(bytes.Repeat([]byte{8}, 32))
	require.NoError(t, err)
	_, err = other.Open(sealed, "we_1")
	require.ErrorIs(t, err, ErrOpen, "bound to its key")
	for _, bad := range []string{"", "v1.", "v1.!!!", "v2." + sealed[3:], sealed[:len(sealed)-2]} {
		_, err = box.Open(bad, "we_1")
		require.ErrorIs(t, err, ErrOpen, bad)
	}

	_, err = New([]byte("short"))
	require.Error(t, err)
}
