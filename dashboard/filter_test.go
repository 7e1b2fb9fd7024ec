package dashboard

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
)

func TestParseFilterForm(t *testing.T) {
	t.Parallel()

	since := time.Date(2026, 3, 1, 14, 5, 0, 0, time.UTC)
	until := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		query  url.Values
		filter DeliveryFilter
		errors map[string]string
	}{
		{"Empty", url.Values{}, DeliveryFilter{}, map[string]string{}},
		{"All", url.Values{"merchant": {" acct_1 "}, "endpoint": {"we_2"}, "status": {"failed"}, "event_type": {"charge.failed"},
			"since": {"2026-03-01T14:05"}, "until": {"2026-03-02"}},
			DeliveryFilter{MerchantID: "acct_1", EndpointID: "we_2", Status: delivery.StatusFailed, EventType: "charge.failed",
				Since: &since, Until: &until}, map[string]string{}},
		{"Seconds", url.Values{"since": {"2026-03-01T14:05:00"}}, DeliveryFilter{Since: &since}, map[string]string{}},
		{"Bad", url.Values{"merchant": {"we_1"}, "endpoint": {"acct_1"}, "status": {"pending"}, "event_type": {"x"},
			"since": {"soon"}, "until": {"2026-13-01"}}, DeliveryFilter{}, map[string]string{
			"merchant": "Not a merchant id (acct_…).", "endpoint": "Not an endpoint id (we_…).", "status": "Unknown status.",
			"event_type": "Unknown event type.", "since": "Use a date and time like 2026-01-31T14:05 (UTC).",
			"until": "Use a date and time like 2026-01-31T14:05 (UTC).",
		}},
		{"Backwards", url.Values{"since": {"2026-03-02"}, "until": {"2026-03-01T14:05"}}, DeliveryFilter{},
			map[string]string{"until": "Must be after Since."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := parseFilterForm(tt.query, []delivery.Status{delivery.StatusFailed})
			require.Equal(t, tt.errors, f.Errors)
			if len(tt.errors) == 0 {
				require.Equal(t, tt.filter, f.deliveryFilter())
			}
		})
	}
}

func TestFilterFormRedriveParams(t *testing.T) {
	t.Parallel()

	f := parseFilterForm(url.Values{"merchant": {"acct_1"}, "endpoint": {"we_2"}, "status": {"failed"},
		"since": {"2026-03-01T00:00"}, "until": {"2026-03-02T00:00"}}, redriveStatuses)
	require.Empty(t, f.Errors)
	since, until := int64(1772323200), int64(1772409600)
	require.Equal(t, delivery.RedriveParams{EndpointID: "we_2", Status: delivery.StatusFailed, Since: &since, Until: &until, DryRun: true},
		f.redriveParams(true))
	require.Equal(t, map[string]string{"merchant": "acct_1", "endpoint": "we_2", "status": "failed", "since": "2026-03-01T00:00",
		"until": "2026-03-02T00:00"}, f.detail())
	require.False(t, f.IsEmpty())
	require.True(t, parseFilterForm(url.Values{}, redriveStatuses).IsEmpty())
}
