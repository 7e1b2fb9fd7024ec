package id

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	t.Parallel()

	seen := make(map[string]bool)
	for range 1000 {
		v := New("cs")
		require.True(t, strings.HasPrefix(v, "cs_"))
		require.Len(t, v, 3+randomLen)
		require.True(t, HasPrefix(v, "cs"))
		require.False(t, seen[v], "duplicate id %s", v)
		seen[v] = true
	}
}

func TestRandomUsesWholeAlphabet(t *testing.T) {
	t.Parallel()

	counts := make(map[rune]int)
	for _, c := range Random(62 * 200) {
		counts[c]++
	}
	require.Len(t, counts, 62)
}

func TestHasPrefix(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"cs_abc123", true},
		{"cs_", false},
		{"cs", false},
		{"evt_abc", false},
		{"cs_abc-123", false},
		{"cs_abc/../x", false},
		{"cs_" + strings.Repeat("a", 65), false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, HasPrefix(tt.in, "cs"))
		})
	}
}
