package checkoutpg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/checkout"
)

// Ledger is the test acquirer's book in Postgres (table acquirer_ledger),
// shared by every Herald process on the database. It stands for the card
// network's own records, so each call is a statement of its own on its own
// pool, never part of a Herald transaction: what the network did stays done
// when Herald's transaction rolls back.
type Ledger struct {
	pool *pgxpool.Pool
}

var _ checkout.Ledger = (*Ledger)(nil)

// NewLedger returns the ledger on pool. Give it a pool that payment
// transactions do not hold connections of (Config.SidePool will do): the
// acquirer is called while a payment holds one.
func NewLedger(pool *pgxpool.Pool) *Ledger {
	return &Ledger{pool: pool}
}

const ledgerColumns = `charge_id, amount, currency, status, decline_code, deferred_code`

func scanLedgerEntry(row pgx.Row) (checkout.LedgerEntry, error) {
	var e checkout.LedgerEntry
	err := row.Scan(&e.ChargeID, &e.Amount, &e.Currency, &e.Status, &e.DeclineCode, &e.DeferredCode)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, checkout.ErrUnknownCharge
	}
	return e, err
}

// Open implements checkout.Ledger. Of concurrent Opens of one charge id,
// the first to commit wins; the others wait for it and return its entry.
func (l *Ledger) Open(ctx context.Context, e checkout.LedgerEntry) (checkout.LedgerEntry, error) {
	stored, err := scanLedgerEntry(l.pool.QueryRow(ctx, `
		INSERT INTO acquirer_ledger (charge_id, amount, currency, status, decline_code, deferred_code)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (charge_id) DO NOTHING RETURNING `+ledgerColumns,
		e.ChargeID, e.Amount, e.Currency, e.Status, e.DeclineCode, e.DeferredCode))
	if errors.Is(err, checkout.ErrUnknownCharge) {
		// The id was taken: a new statement sees the entry recorded first.
		return l.Entry(ctx, e.ChargeID)
	}
	if err != nil {
		return stored, fmt.Errorf("open ledger entry: %w", err)
	}
	return stored, nil
}

// Entry implements checkout.Ledger.
func (l *Ledger) Entry(ctx context.Context, chargeID string) (checkout.LedgerEntry, error) {
	e, err := scanLedgerEntry(l.pool.QueryRow(ctx, `SELECT `+ledgerColumns+` FROM acquirer_ledger WHERE charge_id = $1`, chargeID))
	if err != nil && !errors.Is(err, checkout.ErrUnknownCharge) {
		return e, fmt.Errorf("read ledger entry: %w", err)
	}
	return e, err
}

// Move implements checkout.Ledger.
func (l *Ledger) Move(ctx context.Context, chargeID string, from []checkout.LedgerStatus, to checkout.LedgerStatus, code string) (checkout.LedgerEntry, error) {
	statuses := make([]string, len(from))
	for i, st := range from {
		statuses[i] = string(st)
	}
	e, err := scanLedgerEntry(l.pool.QueryRow(ctx, `UPDATE acquirer_ledger SET status = $3, decline_code = $4, updated_at = now()
		WHERE charge_id = $1 AND status = ANY($2) RETURNING `+ledgerColumns, chargeID, statuses, to, code))
	if errors.Is(err, checkout.ErrUnknownCharge) {
		return l.Entry(ctx, chargeID) // not in from (or unknown): as stored
	}
	if err != nil {
		return e, fmt.Errorf("move ledger entry: %w", err)
	}
	return e, nil
}
