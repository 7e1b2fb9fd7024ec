package webhook

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewEvent(t *testing.T) {
	t.Parallel()

	ev, err := NewEvent("evt_1", TypeCheckoutSessionCompleted, 1700000000, map[string]string{"id": "cs_1"})
	require.NoError(t, err)
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1700000000,"data":{"object":{"id":"cs_1"}}}`, string(b))

	_, err = NewEvent("evt_2", TypeChargeFailed, 1, make(chan int))
	require.Error(t, err, "an object that cannot be marshalled is an error, not an empty event")
}
