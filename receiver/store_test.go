package receiver_test

import (
	"testing"

	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/receiver/receivertest"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()

	store := receiver.NewMemoryStore()
	receivertest.RunStore(t, store, receivertest.Options{Waiters: receiver.MemoryStoreWaiters(store)})
	require := func(ok bool, msg string) {
		t.Helper()
		if !ok {
			t.Fatal(msg)
		}
	}
	require(store.Done("receivertest:once"), "Done reports a key done")
	require(!store.Done("receivertest:never"), "Done reports a key never seen")
	require(receiver.MemoryStoreLocks(store) == 0, "no lock is left behind once no call holds or waits for its key")
}
