// Package accounttest creates merchants for other packages' tests, on a real
// database and through the real account store, so a test's merchant has an
// API key that authenticates as one made by the API would.
package accounttest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
)

// NewMerchant creates a merchant named name and returns it with its API key;
// a failure stops the test.
func NewMerchant(t testing.TB, pool *pgxpool.Pool, name string) (account.Merchant, string) {
	t.Helper()
	m, key, err := accountpg.NewStore(pool).Create(context.Background(), account.Merchant{Name: name})
	if err != nil {
		t.Fatalf("accounttest: create merchant %q: %v", name, err)
	}
	return m, key
}
