package dashboardpg

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverypg"
)

// endpointStateCond returns the SQL condition of the endpoints list's state
// filter, its statuses added to a, or false for an unknown state.
func endpointStateCond(state dashboard.EndpointState, a *args) (string, bool) {
	switch state {
	case dashboard.StateAttention:
		return "(e.status = " + a.add(delivery.EndpointDisabled) + " OR e.paused OR e.breaker_state <> " +
			a.add(delivery.BreakerClosed) + ")", true
	case dashboard.StateEnabled:
		return "(e.status = " + a.add(delivery.EndpointEnabled) + " AND NOT e.paused)", true
	case dashboard.StatePaused:
		return "(e.status = " + a.add(delivery.EndpointEnabled) + " AND e.paused)", true
	case dashboard.StateDisabled:
		return "e.status = " + a.add(delivery.EndpointDisabled), true
	case dashboard.StateBreakerOpen:
		return "e.breaker_state <> " + a.add(delivery.BreakerClosed), true
	}
	return "", false
}

const endpointColumns = `e.id, e.merchant_id, e.url, e.description, e.enabled_events, e.status, e.disabled_reason, e.paused,
	e.created_at, e.last_success_at, e.failing_since, e.breaker_state, e.breaker_next_probe_at, e.breaker_changed_at,
	e.updated_at, m.name`

// recentSuccess counts an endpoint's (e.id) latest attempted deliveries and
// those whose last attempt got a 2xx: succeeded, failed, and pending ones
// already attempted (which are being retried after a failure), at most
// dashboard.RecentSample. Each branch reads a bounded range of an index, so
// the cost is bounded whatever the endpoint's volume: the failed and
// pending ones from deliveries_endpoint_rare, the succeeded ones among the
// endpoint's latest ten samples' worth of deliveries, from
// deliveries_endpoint_created (succeeded is in no status index, see
// deliverypg.StatusBranches).
func recentSuccess(a *args) string {
	n := a.add(dashboard.RecentSample)
	return `CROSS JOIN LATERAL (
	SELECT count(*) AS recent, count(*) FILTER (WHERE ok) AS recent_ok FROM (
		SELECT ok FROM (
			(SELECT created_at, true AS ok FROM (SELECT created_at, status FROM deliveries
				WHERE endpoint_id = e.id ORDER BY created_at DESC LIMIT ` + n + ` * 10) s
				WHERE status = ` + a.add(delivery.StatusSucceeded) + ` ORDER BY created_at DESC LIMIT ` + n + `)
			UNION ALL
			(SELECT created_at, false FROM deliveries d WHERE d.endpoint_id = e.id AND ` + deliverypg.RareStatus(delivery.StatusFailed) + `
				ORDER BY created_at DESC LIMIT ` + n + `)
			UNION ALL
			(SELECT created_at, false FROM (SELECT created_at, attempts FROM deliveries d
				WHERE d.endpoint_id = e.id AND ` + deliverypg.RareStatus(delivery.StatusPending) + ` ORDER BY created_at DESC LIMIT ` + n + ` * 10) p
				WHERE attempts > 0 ORDER BY created_at DESC LIMIT ` + n + `)
		) u ORDER BY created_at DESC LIMIT ` + n + `) latest) r`
}

func scanEndpointRow(row pgx.Row, recent bool) (dashboard.EndpointRow, error) {
	var r dashboard.EndpointRow
	e := &r.Endpoint
	dest := []any{&e.ID, &e.MerchantID, &e.URL, &e.Description, &e.EnabledEvents, &e.Status, &e.DisabledReason, &e.Paused,
		&e.Created, &e.LastSuccessAt, &e.FailingSince, &e.BreakerState, &r.NextProbeAt, &r.BreakerChangedAt, &r.Updated,
		&r.MerchantName}
	if recent {
		dest = append(dest, &r.Recent, &r.RecentSucceeded, &r.Skipped)
	}
	return r, row.Scan(dest...)
}

// ListEndpoints implements dashboard.ReadModel.
func (s *Store) ListEndpoints(ctx context.Context, f dashboard.EndpointFilter, p dashboard.PageRequest) ([]dashboard.EndpointRow, bool, error) {
	a := args{}
	recent := recentSuccess(&a)
	skippedCap := a.add(dashboard.SkippedCap + 1)
	conds := []string{"e.deleted_at IS NULL"}
	if f.MerchantID != "" {
		conds = append(conds, "e.merchant_id = "+a.add(f.MerchantID))
	}
	if f.State != "" {
		cond, ok := endpointStateCond(f.State, &a)
		if !ok {
			return nil, false, fmt.Errorf("list endpoints: unknown state %q", f.State)
		}
		conds = append(conds, cond)
	}
	conds, orderBy := pageBounds("e", p, conds, &a)
	// What each endpoint missed while disabled, counted up to a cap.
	skipped := `(SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND ` +
		deliverypg.RareStatus(delivery.StatusSkipped) + ` LIMIT ` + skippedCap + `) s)`
	sql := `SELECT ` + endpointColumns + `, r.recent, r.recent_ok, ` + skipped + ` FROM (
		SELECT * FROM webhook_endpoints e WHERE ` + strings.Join(conds, " AND ") + ` ` + orderBy + ` LIMIT ` + a.add(p.Limit+1) + `) e
		JOIN merchants m ON m.id = e.merchant_id ` + recent + ` ` + orderBy
	return listPage(ctx, s, "endpoints", p, sql, a, func(row pgx.CollectableRow) (dashboard.EndpointRow, error) {
		return scanEndpointRow(row, true)
	})
}

// EndpointOptions implements dashboard.ReadModel.
func (s *Store) EndpointOptions(ctx context.Context, merchantID string, limit int) ([]dashboard.EndpointOption, error) {
	a := args{}
	cond := ""
	if merchantID != "" {
		cond = "AND e.merchant_id = " + a.add(merchantID)
	}
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.url, m.name FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id
		WHERE e.deleted_at IS NULL `+cond+` ORDER BY m.name, e.url, e.id LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("list endpoint options: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[dashboard.EndpointOption])
	if err != nil {
		return nil, fmt.Errorf("list endpoint options: %w", err)
	}
	if merchantID != "" {
		// One merchant's endpoints: its name would only repeat itself.
		for i := range list {
			list[i].MerchantName = ""
		}
	}
	return list, nil
}

// EndpointMerchant implements dashboard.ReadModel.
func (s *Store) EndpointMerchant(ctx context.Context, endpointID string) (dashboard.Merchant, error) {
	var m dashboard.Merchant
	err := s.pool.QueryRow(ctx, `SELECT m.id, m.name FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id
		WHERE e.id = $1 AND e.deleted_at IS NULL`, endpointID).Scan(&m.ID, &m.Name)
	if err != nil {
		return m, notFound(err, "find endpoint")
	}
	return m, nil
}
