package deliverypg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

func scanEvent(row pgx.Row) (*webhook.Event, error) {
	var body []byte
	if err := row.Scan(&body); err != nil {
		return nil, notFound(err, "scan event")
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return &ev, nil
}

// FindEvent implements delivery.EventService.
func (s *Service) FindEvent(ctx context.Context, merchantID, eventID string) (*webhook.Event, error) {
	return scanEvent(s.pool.QueryRow(ctx, `SELECT body FROM events WHERE id = $1 AND merchant_id = $2`, eventID, merchantID))
}

// ListEvents implements delivery.EventService. Events are listed by
// created time, newest first, ties (one transaction's events) by seq; the
// time window and the cursors are ranges of events_merchant_type_created,
// one per type when no type is asked for. delivery_success=true looks
// each event's deliveries up by event id; false reads the merchant's
// deliveries that did not succeed first (see StatusBranches) and their
// events by primary key.
func (s *Service) ListEvents(ctx context.Context, merchantID string, f delivery.EventFilter) ([]*webhook.Event, bool, error) {
	if err := f.Validate(); err != nil {
		return nil, false, err
	}
	q := sqlArgs{merchantID}
	where := `e.merchant_id = $1`
	if f.Type != "" {
		where += ` AND e.type = ` + q.add(f.Type)
	}
	if f.CreatedGTE != nil {
		where += ` AND e.created_at >= ` + q.add(*f.CreatedGTE)
	}
	if f.CreatedLT != nil {
		where += ` AND e.created_at < ` + q.add(*f.CreatedLT)
	}
	switch {
	case f.DeliverySuccess == nil:
	case *f.DeliverySuccess:
		// Most events: walk them, each looking its deliveries up.
		where += ` AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status <> ` + q.add(delivery.StatusSucceeded) + `)`
	default:
		// Few events: start from the merchant's deliveries that did not
		// succeed (the rare states' index, and the queued ones through
		// their jobs), so that a long history without any costs nothing.
		where += ` AND e.id = ANY (ARRAY(SELECT d.event_id FROM deliveries d WHERE d.merchant_id = $1 AND d.rare_status IS NOT NULL
			UNION ALL SELECT d.event_id FROM deliveries d WHERE d.merchant_id = $1 AND ` + queued + `))`
	}
	order := `DESC`
	for _, c := range []struct {
		param, id, cmp, order string
	}{{"starting_after", f.StartingAfter, "<", "DESC"}, {"ending_before", f.EndingBefore, ">", "ASC"}} {
		if c.id == "" {
			continue
		}
		var created time.Time
		var seq int64
		err := s.pool.QueryRow(ctx, `SELECT created_at, seq FROM events WHERE id = $1 AND merchant_id = $2`, c.id, merchantID).Scan(&created, &seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, cursorError(c.param, c.id)
		}
		if err != nil {
			return nil, false, fmt.Errorf("look up cursor: %w", err)
		}
		where += ` AND (e.created_at, e.seq) ` + c.cmp + ` (` + q.add(created) + `::timestamptz, ` + q.add(seq) + `::bigint)`
		order = c.order
	}
	orderBy, limit := `ORDER BY e.created_at `+order+`, e.seq `+order, q.add(f.Limit+1)
	sql := `SELECT e.body FROM events e WHERE ` + where + ` ` + orderBy + ` LIMIT ` + limit
	if f.Type == "" {
		// No index leads with the merchant and the time alone (one fewer
		// for every event to write, migration 00013): each of the
		// merchant's event types is a branch of events_merchant_type_created,
		// the types found by skipping through that index, and the branches
		// are merged. A page reads a page per type.
		sql = `WITH RECURSIVE types AS (
				(SELECT type FROM events WHERE merchant_id = $1 ORDER BY type LIMIT 1)
				UNION ALL
				SELECT (SELECT e.type FROM events e WHERE e.merchant_id = $1 AND e.type > t.type ORDER BY e.type LIMIT 1)
				FROM types t WHERE t.type IS NOT NULL)
			SELECT e.body FROM types t CROSS JOIN LATERAL (SELECT e.body, e.created_at, e.seq FROM events e
				WHERE e.type = t.type AND ` + where + ` ` + orderBy + ` LIMIT ` + limit + `) e
			WHERE t.type IS NOT NULL ` + orderBy + ` LIMIT ` + limit
	}
	rows, err := s.pool.Query(ctx, sql, q...)
	if err != nil {
		return nil, false, fmt.Errorf("list events: %w", err)
	}
	list, more, err := collectPage(rows, f.Limit, scanEvent)
	if err != nil {
		return nil, false, err
	}
	if order == "ASC" {
		// Read oldest first from the cursor; shown newest first like
		// every page, and has_more says newer events remain.
		slices.Reverse(list)
	}
	return list, more, nil
}

// sqlArgs collects a statement's arguments; add returns the placeholder
// of the one it appends.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// deliveryColumns are scanned by scanDelivery, from deliveries d joined
// with their endpoint e (deliveryFrom): the endpoint's pause and breaker
// say why a pending delivery waits and until when.
const deliveryColumns = `d.id, d.merchant_id, d.event_id, d.event_type, d.endpoint_id, d.status, d.held, d.attempts,
	d.next_attempt_at, d.last_attempt_at, COALESCE(d.last_status_code, 0), d.last_error_class, d.created_at, d.completed_at,
	e.paused, e.breaker_state, e.breaker_next_probe_at`

const deliveryFrom = ` FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id `

func scanDelivery(row pgx.Row) (*delivery.Delivery, error) {
	var d delivery.Delivery
	var e delivery.EndpointState
	err := row.Scan(&d.ID, &d.MerchantID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status, &d.Held, &d.Attempts,
		&d.NextAttemptAt, &d.LastAttemptAt, &d.LastStatusCode, &d.LastErrorClass, &d.Created, &d.CompletedAt,
		&e.Paused, &e.BreakerState, &e.NextProbe)
	if err != nil {
		return nil, notFound(err, "scan delivery")
	}
	d.ExplainWait(e)
	return &d, nil
}

// FindDelivery implements delivery.DeliveryService. The delivery and its
// attempts are read in one snapshot, so a page never shows an attempt
// beside a status that predates it.
func (s *Service) FindDelivery(ctx context.Context, merchantID, deliveryID string) (*delivery.Delivery, error) {
	return inTx(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) (*delivery.Delivery, error) {
		d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+deliveryFrom+`
			WHERE d.id = $1 AND d.merchant_id = $2`, deliveryID, merchantID))
		if err != nil {
			return nil, err
		}
		if d.Status == delivery.StatusPending && d.HeldReason != delivery.HoldEndpointPaused {
			err := tx.QueryRow(ctx, `SELECT NOT `+hasLiveJob+` FROM deliveries d WHERE d.id = $1`, d.ID).Scan(&d.Orphaned)
			if err != nil {
				return nil, fmt.Errorf("look up job: %w", err)
			}
		}
		rows, err := tx.Query(ctx, `SELECT id, number, trigger, started_at, duration_us, request_headers,
			COALESCE(response_status, 0), response_headers, response_body, error_class, error_message
			FROM delivery_attempts WHERE delivery_id = $1 ORDER BY started_at, number`, d.ID)
		if err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		d.AttemptLog, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.Attempt, error) {
			var a delivery.Attempt
			var us int64
			err := row.Scan(&a.ID, &a.Number, &a.Trigger, &a.StartedAt, &us, &a.RequestHeaders, &a.ResponseStatus,
				&a.ResponseHeaders, &a.ResponseBody, &a.ErrorClass, &a.ErrorMessage)
			a.Duration = time.Duration(us) * time.Microsecond
			return a, err
		})
		if err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		return d, nil
	})
}

// ListDeliveries implements delivery.DeliveryService, newest first. Each
// way of finding the status asked for (StatusBranches: one, or two for
// pending) is its own branch, read in (created_at, id) order and stopped
// after a page; the branches are merged and cut to a page again. However
// long the merchant's history, a page reads about a page of index per
// branch, and the queued deliveries cost what the backlog is.
func (s *Service) ListDeliveries(ctx context.Context, merchantID string, f delivery.DeliveryFilter, limit int, startingAfter string) ([]*delivery.Delivery, bool, error) {
	q := sqlArgs{merchantID}
	conds := `d.merchant_id = $1`
	if f.EndpointID != "" {
		conds += ` AND d.endpoint_id = ` + q.add(f.EndpointID)
	}
	if f.EventID != "" {
		conds += ` AND d.event_id = ` + q.add(f.EventID)
	}
	if startingAfter != "" {
		created, err := s.cursorCreated(ctx, `SELECT created_at FROM deliveries WHERE id = $1 AND merchant_id = $2`,
			startingAfter, merchantID)
		if err != nil {
			return nil, false, err
		}
		conds += ` AND (d.created_at, d.id) < (` + q.add(created) + `::timestamptz, ` + q.add(startingAfter) + `::text)`
	}
	page := q.add(limit + 1)
	wheres := StatusBranches(f.Status)
	branches := make([]string, len(wheres))
	for i, where := range wheres {
		branches[i] = `(SELECT d.* FROM deliveries d WHERE ` + where + ` AND ` + conds +
			` ORDER BY d.created_at DESC, d.id DESC LIMIT ` + page + `)`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM (`+strings.Join(branches, ` UNION ALL `)+`) d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id ORDER BY d.created_at DESC, d.id DESC LIMIT `+page, q...)
	if err != nil {
		return nil, false, fmt.Errorf("list deliveries: %w", err)
	}
	return collectPage(rows, limit, scanDelivery)
}
