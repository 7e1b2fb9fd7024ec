package dashboard

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ next, want string }{
		{"/dashboard", "/dashboard"},
		{"/dashboard/deliveries?status=failed", "/dashboard/deliveries?status=failed"},
		{"/dashboard/river/jobs", "/dashboard/river/jobs"},
		{"", "/dashboard/"},
		{"/", "/dashboard/"},
		{"/v1/checkout/sessions", "/dashboard/"},
		{"/dashboardx", "/dashboard/"},
		{"//evil.example/dashboard/", "/dashboard/"},
		{"https://evil.example/dashboard/", "/dashboard/"},
		{"/dashboard/\\evil", "/dashboard/"},
		{"/dashboard/../pay/cs_1", "/dashboard/"},
		{"/dashboard/%2e%2e/pay", "/dashboard/"},
	} {
		require.Equal(t, tt.want, safeNext(tt.next), tt.next)
	}
}

func TestPasswordDigest(t *testing.T) {
	t.Parallel()

	d := &Dashboard{cfg: Config{Key: []byte("key")}, digest: passwordDigest([]byte("key"), "correct horse")}
	require.True(t, d.passwordMatches("correct horse"))
	require.False(t, d.passwordMatches("correct hors"))
	require.False(t, d.passwordMatches(""))
	require.NotEqual(t, passwordDigest([]byte("other key"), "correct horse"), d.digest, "the digest depends on the key")
}
