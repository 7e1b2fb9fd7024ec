package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCursor(t *testing.T) {
	t.Parallel()

	c := Cursor{At: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC), ID: "dlv_abc123"}
	got, err := parseCursor(c.String(), "dlv")
	require.NoError(t, err)
	require.Equal(t, c, *got)

	for _, bad := range []string{"", "!!!", c.String() + "x", Cursor{At: c.At, ID: "we_abc"}.String(),
		Cursor{At: c.At, ID: "dlv_a'b"}.String(), "MTIzNA"} {
		_, err := parseCursor(bad, "dlv")
		require.ErrorIs(t, err, errBadCursor, bad)
	}
	_, err = pageRequest(c.String(), c.String(), "dlv")
	require.ErrorIs(t, err, errBadCursor, "after and before at once")
}

func TestPager(t *testing.T) {
	t.Parallel()

	rows := []Cursor{{ID: "dlv_3"}, {ID: "dlv_2"}, {ID: "dlv_1"}}
	cursor := func(c Cursor) Cursor { return c }
	at := &Cursor{ID: "dlv_x"}
	for _, tt := range []struct {
		name  string
		rows  []Cursor
		more  bool
		req   PageRequest
		newer string
		older string
		first bool
	}{
		{"OnlyPage", rows, false, PageRequest{}, "", "", false},
		{"FirstOfMany", rows, true, PageRequest{}, "", "dlv_1", false},
		{"Middle", rows, true, PageRequest{After: at}, "dlv_3", "dlv_1", true},
		{"Last", rows, false, PageRequest{After: at}, "dlv_3", "", true},
		{"BackTowardsNewest", rows, true, PageRequest{Before: at}, "dlv_3", "dlv_1", true},
		{"BackAtNewest", rows, false, PageRequest{Before: at}, "", "dlv_1", false},
		{"EmptyFirstPage", nil, false, PageRequest{}, "", "", false},
		{"EmptyPastTheEnd", nil, false, PageRequest{After: at}, "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := newPager(tt.rows, tt.more, tt.req, cursor)
			id := func(c *Cursor) string {
				if c == nil {
					return ""
				}
				return c.ID
			}
			require.Equal(t, tt.newer, id(p.Newer))
			require.Equal(t, tt.older, id(p.Older))
			require.Equal(t, tt.first, p.First)
		})
	}
}
