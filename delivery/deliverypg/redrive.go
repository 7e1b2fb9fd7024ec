package deliverypg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/riverjob"
)

// RedriveDelivery implements delivery.DeliveryService.
func (s *Service) RedriveDelivery(ctx context.Context, merchantID, deliveryID string) (*delivery.Delivery, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var endpointStatus string
		var endpointDeleted bool
		err := tx.QueryRow(ctx, `SELECT e.status, e.deleted_at IS NOT NULL FROM deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE d.id = $1 AND d.merchant_id = $2 FOR UPDATE OF d`, deliveryID, merchantID).Scan(&endpointStatus, &endpointDeleted)
		if err != nil {
			return notFound(err, "lock delivery")
		}
		if endpointDeleted || endpointStatus != string(delivery.EndpointEnabled) {
			return delivery.ErrEndpointDisabled
		}
		job, ok, err := redriveTx(ctx, tx, deliveryID, s.cfg.Now())
		if err != nil || !ok {
			return err
		}
		return enqueueTx(ctx, tx, s.cfg.Inserter, []DeliverArgs{job})
	})
	if err != nil {
		return nil, err
	}
	return s.FindDelivery(ctx, merchantID, deliveryID)
}

// redriveTx puts a delivery back on its way with a fresh set of attempts
// and returns the job to enqueue. A finished or skipped delivery always
// goes; a pending one only when it is an orphan (no live job, not held):
// one that has a job is already on its way and is left alone (ok false),
// so that no delivery is ever attempted twice at once. The delivery row
// must be locked.
func redriveTx(ctx context.Context, tx pgx.Tx, deliveryID string, now time.Time) (DeliverArgs, bool, error) {
	var job DeliverArgs
	err := tx.QueryRow(ctx, `UPDATE deliveries d SET status = $3, redrive_base = attempts, job_seq = job_seq + 1,
		next_attempt_at = $2, completed_at = NULL,
		`+setRareStatus(map[string]string{"status": "$3", "job_seq": "d.job_seq + 1"})+`
		WHERE id = $1 AND (status <> $3 OR (NOT held AND NOT `+hasLiveJob+`))
		RETURNING id, job_seq`, deliveryID, now, delivery.StatusPending).Scan(&job.DeliveryID, &job.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return job, false, nil
	}
	if err != nil {
		return job, false, fmt.Errorf("redrive delivery: %w", err)
	}
	job.Redrive = true
	return job, true, nil
}

// redriveMatch selects a redrive's deliveries of status st: those of
// enabled endpoints matching the filter; its parameters are $1 merchant,
// $2 status, $3 endpoint (” any), $4 event type (” any), $5 since, $6
// until (NULL open), $7 cutoff, $8 the enabled status. The status is
// written out too, as StatusBranches finds it, so that a failed, canceled or
// skipped one is read from the rare states' index. The dry run counts with
// it and the job walks with it, so both see the same deliveries.
func redriveMatch(st delivery.Status) string {
	return `FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
	AND e.status = $8 AND e.deleted_at IS NULL
	WHERE d.merchant_id = $1 AND d.status = $2 AND ` + StatusBranches(st)[0] + ` AND ($3 = '' OR d.endpoint_id = $3)
	AND ($4 = '' OR d.event_type = $4) AND ($5::timestamptz IS NULL OR d.created_at >= $5)
	AND ($6::timestamptz IS NULL OR d.created_at < $6) AND d.created_at <= $7`
}

func redriveArgs(merchantID string, p delivery.RedriveParams, cutoff time.Time) []any {
	var since, until *time.Time
	if p.Since != nil {
		t := time.Unix(*p.Since, 0)
		since = &t
	}
	if p.Until != nil {
		t := time.Unix(*p.Until, 0)
		until = &t
	}
	return []any{merchantID, string(p.Status), p.EndpointID, p.EventType, since, until, cutoff, delivery.EndpointEnabled}
}

// CreateRedrive implements delivery.DeliveryService.
func (s *Service) CreateRedrive(ctx context.Context, merchantID string, p delivery.RedriveParams) (*delivery.Redrive, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := &delivery.Redrive{MerchantID: merchantID, Filter: p, Status: delivery.RedriveQueued, Created: s.cfg.Now()}
	return inTx(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) (*delivery.Redrive, error) {
		if err := tx.QueryRow(ctx, `SELECT count(*) `+redriveMatch(p.Status),
			redriveArgs(merchantID, p, r.Created)...).Scan(&r.Matched); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		if p.DryRun {
			return r, nil
		}
		r.ID = id.New("rdr")
		filter, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("marshal filter: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO redrives (id, merchant_id, filter, status, matched, cutoff, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6)`, r.ID, merchantID, filter, r.Status, r.Matched, r.Created); err != nil {
			return nil, fmt.Errorf("insert redrive: %w", err)
		}
		_, err = s.cfg.Inserter.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: RedriveArgs{RedriveID: r.ID}}})
		if err != nil {
			return nil, fmt.Errorf("enqueue redrive: %w", err)
		}
		return r, nil
	})
}

func scanRedrive(row pgx.Row) (*delivery.Redrive, error) {
	var r delivery.Redrive
	var filter []byte
	if err := row.Scan(&r.ID, &r.MerchantID, &filter, &r.Status, &r.Matched, &r.Enqueued, &r.Created, &r.Completed); err != nil {
		return nil, notFound(err, "scan redrive")
	}
	if err := json.Unmarshal(filter, &r.Filter); err != nil {
		return nil, fmt.Errorf("decode redrive filter: %w", err)
	}
	return &r, nil
}

const redriveColumns = `id, merchant_id, filter, status, matched, enqueued, created_at, completed_at`

// FindRedrive implements delivery.DeliveryService.
func (s *Service) FindRedrive(ctx context.Context, merchantID, redriveID string) (*delivery.Redrive, error) {
	return scanRedrive(s.pool.QueryRow(ctx, `SELECT `+redriveColumns+` FROM redrives WHERE id = $1 AND merchant_id = $2`,
		redriveID, merchantID))
}

// CancelRedrive implements delivery.DeliveryService. Deliveries already
// enqueued stay enqueued.
func (s *Service) CancelRedrive(ctx context.Context, merchantID, redriveID string) (*delivery.Redrive, error) {
	r, err := scanRedrive(s.pool.QueryRow(ctx, `UPDATE redrives SET status = $4, completed_at = $3, updated_at = $3
		WHERE id = $1 AND merchant_id = $2 AND status IN ($5, $6) RETURNING `+redriveColumns,
		redriveID, merchantID, s.cfg.Now(), delivery.RedriveCanceled, delivery.RedriveQueued, delivery.RedriveRunning))
	if errors.Is(err, delivery.ErrNotFound) {
		if _, ferr := s.FindRedrive(ctx, merchantID, redriveID); ferr != nil {
			return nil, ferr
		}
		return nil, delivery.ErrRedriveFinished
	}
	return r, err
}

// RedriveArgs is the durable River job behind a bulk redrive.
type RedriveArgs struct {
	RedriveID string `json:"redrive_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (RedriveArgs) Kind() string { return "herald.redrive" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (RedriveArgs) InsertOpts() river.InsertOpts {
	return riverjob.OneLive()
}

// redriveBatch is how many deliveries one transaction of a redrive handles.
const redriveBatch = 500

// RedriveWorker works RedriveArgs: it walks the matching deliveries in id
// order, a batch per transaction, redriving each and recording its progress
// with the cursor, so a job interrupted by a crash carries on where it
// stopped and never redrives a delivery twice.
type RedriveWorker struct {
	river.WorkerDefaults[RedriveArgs]
	pool *pgxpool.Pool
	now  func() time.Time
	// batchSize is redriveBatch; tests make it small to cross batch boundaries
	// with a few deliveries.
	batchSize int
}

// NewRedriveWorker returns the worker; now defaults to time.Now.
func NewRedriveWorker(pool *pgxpool.Pool, now func() time.Time) *RedriveWorker {
	if now == nil {
		now = time.Now
	}
	return &RedriveWorker{pool: pool, now: now, batchSize: redriveBatch}
}

// Work implements river.Worker.
func (w *RedriveWorker) Work(ctx context.Context, job *river.Job[RedriveArgs]) error {
	inserter := river.ClientFromContext[pgx.Tx](ctx)
	for {
		done, err := w.batch(ctx, inserter, job.Args.RedriveID)
		if err != nil || done {
			return err
		}
	}
}

// batch redrives the next batch and reports whether the redrive is over.
func (w *RedriveWorker) batch(ctx context.Context, inserter JobInserter, redriveID string) (bool, error) {
	done := false
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		var (
			merchantID, status, cursor string
			filter                     []byte
			cutoff                     time.Time
		)
		err := tx.QueryRow(ctx, `SELECT merchant_id, filter, status, cursor, cutoff FROM redrives WHERE id = $1 FOR UPDATE`,
			redriveID).Scan(&merchantID, &filter, &status, &cursor, &cutoff)
		if err != nil {
			return notFound(err, "lock redrive")
		}
		if status == string(delivery.RedriveCanceled) || status == string(delivery.RedriveCompleted) {
			done = true
			return nil
		}
		var p delivery.RedriveParams
		if err := json.Unmarshal(filter, &p); err != nil {
			return fmt.Errorf("decode redrive filter: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT d.id `+redriveMatch(p.Status)+` AND d.id > $9 ORDER BY d.id LIMIT $10 FOR UPDATE OF d`,
			append(redriveArgs(merchantID, p, cutoff), cursor, w.batchSize)...)
		if err != nil {
			return fmt.Errorf("select deliveries: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("select deliveries: %w", err)
		}
		now := w.now()
		var jobs []DeliverArgs
		for _, deliveryID := range ids {
			job, ok, err := redriveTx(ctx, tx, deliveryID, now)
			if err != nil {
				return err
			}
			if ok {
				jobs = append(jobs, job)
			}
		}
		if err := enqueueTx(ctx, tx, inserter, jobs); err != nil {
			return err
		}
		done = len(ids) < w.batchSize
		if len(ids) > 0 {
			cursor = ids[len(ids)-1]
		}
		newStatus := delivery.RedriveRunning
		var completedAt *time.Time
		if done {
			newStatus, completedAt = delivery.RedriveCompleted, &now
		}
		_, err = tx.Exec(ctx, `UPDATE redrives SET status = $2, cursor = $3, enqueued = enqueued + $4, completed_at = $5,
			updated_at = $6 WHERE id = $1`, redriveID, newStatus, cursor, len(jobs), completedAt, now)
		if err != nil {
			return fmt.Errorf("record redrive progress: %w", err)
		}
		return nil
	})
	return done, err
}
