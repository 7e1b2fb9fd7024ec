package dashboardpg

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverypg"
)

// deliveriesQuery builds the list query. Each way of finding the status
// asked for (deliverypg.StatusBranches: every delivery, one status, or for
// pending the rare states and the queued ones) is its own branch, read in
// (created_at, id) order from the index that leads with the merchant, the
// endpoint or nothing, and stopped after a page; the branches are merged
// and cut to a page again. However many deliveries there are, a page reads
// about one page of index per branch.
func deliveriesQuery(f dashboard.DeliveryFilter, p dashboard.PageRequest) (string, []any) {
	a := args{}
	var conds []string
	if f.MerchantID != "" {
		conds = append(conds, "d.merchant_id = "+a.add(f.MerchantID))
	}
	if f.EndpointID != "" {
		conds = append(conds, "d.endpoint_id = "+a.add(f.EndpointID))
	}
	if f.EventType != "" {
		conds = append(conds, "d.event_type = "+a.add(f.EventType))
	}
	if f.Since != nil {
		conds = append(conds, "d.created_at >= "+a.add(*f.Since))
	}
	if f.Until != nil {
		conds = append(conds, "d.created_at < "+a.add(*f.Until))
	}
	conds, orderBy := pageBounds("d", p, conds, &a)
	limit := a.add(p.Limit + 1)
	wheres := deliverypg.StatusBranches(f.Status)
	branches := make([]string, 0, len(wheres))
	for _, status := range wheres {
		where := append([]string{status}, conds...)
		branches = append(branches, "(SELECT "+deliveryColumns+" FROM deliveries d WHERE "+strings.Join(where, " AND ")+
			" "+orderBy+" LIMIT "+limit+")")
	}
	return `SELECT d.*, m.name, e.url, e.paused, e.breaker_state, e.breaker_next_probe_at FROM (` + strings.Join(branches, " UNION ALL ") + `) d
		JOIN merchants m ON m.id = d.merchant_id
		JOIN webhook_endpoints e ON e.id = d.endpoint_id ` + orderBy + ` LIMIT ` + limit, a
}

const deliveryColumns = `d.id, d.merchant_id, d.event_id, d.event_type, d.endpoint_id, d.status, d.held, d.attempts,
	d.next_attempt_at, d.last_attempt_at, COALESCE(d.last_status_code, 0) AS last_status_code, d.last_error_class,
	d.created_at, d.completed_at`

// ListDeliveries implements dashboard.ReadModel.
func (s *Store) ListDeliveries(ctx context.Context, f dashboard.DeliveryFilter, p dashboard.PageRequest) ([]dashboard.DeliveryRow, bool, error) {
	sql, a := deliveriesQuery(f, p)
	return listPage(ctx, s, "deliveries", p, sql, a, func(row pgx.CollectableRow) (dashboard.DeliveryRow, error) {
		var r dashboard.DeliveryRow
		var e delivery.EndpointState
		d := &r.Delivery
		err := row.Scan(&d.ID, &d.MerchantID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status, &d.Held, &d.Attempts,
			&d.NextAttemptAt, &d.LastAttemptAt, &d.LastStatusCode, &d.LastErrorClass, &d.Created, &d.CompletedAt,
			&r.MerchantName, &r.EndpointURL, &e.Paused, &e.BreakerState, &e.NextProbe)
		d.ExplainWait(e)
		return r, err
	})
}

// DeliveryContext implements dashboard.ReadModel.
func (s *Store) DeliveryContext(ctx context.Context, deliveryID string) (*dashboard.DeliveryContext, error) {
	var (
		c       dashboard.DeliveryContext
		deleted bool
		body    string
	)
	err := s.pool.QueryRow(ctx, `SELECT d.merchant_id, m.name, e.url, e.status, e.deleted_at IS NOT NULL, ev.body::text
		FROM deliveries d
		JOIN merchants m ON m.id = d.merchant_id
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		JOIN events ev ON ev.id = d.event_id
		WHERE d.id = $1`, deliveryID).Scan(&c.MerchantID, &c.MerchantName, &c.EndpointURL, &c.EndpointStatus, &deleted, &body)
	if err != nil {
		return nil, notFound(err, "find delivery")
	}
	if deleted {
		// A deleted endpoint takes nothing more, like a disabled one.
		c.EndpointStatus = delivery.EndpointDisabled
	}
	c.EventBody = []byte(body)
	return &c, nil
}
