package main

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
)

// herald serve runs the collector at GOGC 200 unless the operator set
// GOGC, and says which in its Go metrics.
func TestServeGCPercent(t *testing.T) {
	t.Parallel()

	dbURL := pgtest.NewDatabase(t)
	for _, c := range []struct {
		env, want string
	}{
		{"GOGC=", "200"},
		{"GOGC=150", "150"},
	} {
		p := newHeraldProcess(t, dbURL, c.env)
		p.start(t)
		_, metrics := httpGet(t, p.url()+"/metrics")
		got := regexp.MustCompile(`(?m)^go_gc_gogc_percent (\S+)$`).FindStringSubmatch(metrics)
		require.Len(t, got, 2, "go_gc_gogc_percent is exported")
		require.Equal(t, c.want, got[1], c.env)
		p.kill()
	}
	_, ok := gcPercent(func(k string) string { return map[string]string{"GOGC": "off"}[k] })
	require.False(t, ok, "GOGC=off is the operator's too")
}
