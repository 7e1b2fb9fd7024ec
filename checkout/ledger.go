package checkout

import (
	"context"
	"slices"
	"sync"
)

// LedgerStatus is where the test acquirer holds a charge.
type LedgerStatus string

// Ledger statuses. Money is held by an approved entry only.
const (
	LedgerRequiresAuthentication LedgerStatus = "requires_authentication"
	LedgerApproved               LedgerStatus = "approved"
	LedgerDeclined               LedgerStatus = "declined"
	LedgerVoided                 LedgerStatus = "voided"
)

// LedgerEntry is the test acquirer's record of one charge, kept under the
// charge id (the idempotency key).
type LedgerEntry struct {
	ChargeID string
	Amount   int64
	Currency string
	Status   LedgerStatus
	// DeclineCode is set when Status is LedgerDeclined.
	DeclineCode string
	// DeferredCode is, while Status is LedgerRequiresAuthentication, the
	// decline code the charge gets once authenticated ("" approves it).
	DeferredCode string
}

// Ledger is the test acquirer's book: what the simulated network did, by
// charge id. Like a real network's records it lives outside Herald's
// transactions: an entry stays when Herald rolls back. Implementations must
// be safe for concurrent use, and Open and Move must be atomic per charge id.
type Ledger interface {
	// Open records e unless an entry for e.ChargeID exists, and returns the
	// entry stored: e, or the one recorded first.
	Open(ctx context.Context, e LedgerEntry) (LedgerEntry, error)
	// Entry returns the entry for chargeID. Errors: ErrUnknownCharge.
	Entry(ctx context.Context, chargeID string) (LedgerEntry, error)
	// Move sets the entry's status to `to` and its decline code to code if
	// its status is one of from, and returns the entry as stored afterwards,
	// moved or not. Errors: ErrUnknownCharge.
	Move(ctx context.Context, chargeID string, from []LedgerStatus, to LedgerStatus, code string) (LedgerEntry, error)
}

// MemoryLedger is a Ledger in process memory, for tests and single-process
// demos: its entries die with the process.
type MemoryLedger struct {
	mu      sync.Mutex
	entries map[string]LedgerEntry
}

var _ Ledger = (*MemoryLedger)(nil)

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{entries: map[string]LedgerEntry{}}
}

// Open implements Ledger.
func (l *MemoryLedger) Open(_ context.Context, e LedgerEntry) (LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if first, ok := l.entries[e.ChargeID]; ok {
		return first, nil
	}
	l.entries[e.ChargeID] = e
	return e, nil
}

// Entry implements Ledger.
func (l *MemoryLedger) Entry(_ context.Context, chargeID string) (LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[chargeID]
	if !ok {
		return LedgerEntry{}, ErrUnknownCharge
	}
	return e, nil
}

// Move implements Ledger.
func (l *MemoryLedger) Move(_ context.Context, chargeID string, from []LedgerStatus, to LedgerStatus, code string) (LedgerEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[chargeID]
	if !ok {
		return LedgerEntry{}, ErrUnknownCharge
	}
	if slices.Contains(from, e.Status) {
		e.Status, e.DeclineCode = to, code
		l.entries[chargeID] = e
	}
	return e, nil
}

// Entries returns every entry, in no particular order.
func (l *MemoryLedger) Entries() []LedgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LedgerEntry, 0, len(l.entries))
	for _, e := range l.entries {
		out = append(out, e)
	}
	return out
}
