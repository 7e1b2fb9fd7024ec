package validation

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHasControl(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"Notebook, A5 — dotted", false},
		{"café ☕ 東京", false},
		{"\u00a0non-breaking space", false}, // U+00A0 is the first character after C1
		{"zero\u200bwidth", false},          // a format character, not a control
		{"nul\x00", true},
		{"tab\t", true},
		{"new\nline", true},
		{"\x1f", true},
		{"del\x7f", true},
		{"c1 \u0080", true},
		{"c1 \u009f", true},
	} {
		t.Run(fmt.Sprintf("%q", tt.s), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, HasControl(tt.s))
		})
	}
}
