package client

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sessionJSON is a session with the given ID, for list pages.
func sessionJSON(id string) string {
	return strings.Replace(openSessionJSON, `"id":"cs_Wq3abc"`, `"id":"`+id+`"`, 1)
}

func eventWithID(id string) string {
	return strings.Replace(eventJSON, `"id":"evt_5Tq"`, `"id":"`+id+`"`, 1)
}

func TestListIteratesOverEveryPage(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t,
		answer{body: listJSON(true, sessionJSON("cs_3"), sessionJSON("cs_2"))},
		answer{body: listJSON(true, sessionJSON("cs_1"))},
		answer{body: listJSON(false)}, // has_more promised more, then the last one went away
	)
	var ids []string
	for s, err := range f.client().Sessions.List(testContext(t), ListParams{Limit: 2}) {
		require.NoError(t, err)
		ids = append(ids, s.ID)
	}
	require.Equal(t, []string{"cs_3", "cs_2", "cs_1"}, ids)
	reqs := f.received()
	require.Len(t, reqs, 3)
	require.Equal(t, "limit=2", reqs[0].query)
	require.Equal(t, "limit=2&starting_after=cs_2", reqs[1].query, "the next page starts after the last object seen")
	require.Equal(t, "limit=2&starting_after=cs_1", reqs[2].query)
}

func TestListStopsWhenTheLoopDoes(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, answer{body: listJSON(true, sessionJSON("cs_3"), sessionJSON("cs_2"))})
	var ids []string
	for s, err := range f.client().Endpoints.List(testContext(t), ListParams{}) {
		require.NoError(t, err)
		ids = append(ids, s.ID)
		break
	}
	require.Len(t, ids, 1)
	require.Len(t, f.received(), 1, "a loop that stops early fetches no further page")
}

func TestListYieldsAnErrorOnceAndStops(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t,
		answer{body: listJSON(true, eventWithID("evt_2"))},
		answer{status: http.StatusBadRequest, body: apiError(ErrorTypeInvalidRequest, "resource_missing", "No such event: 'evt_2'.", "starting_after")},
	)
	var ids []string
	var errs []error
	for ev, err := range f.client().Events.List(testContext(t), EventListParams{Type: "checkout.session.completed"}) {
		if err != nil {
			require.Nil(t, ev)
			errs = append(errs, err)
			continue
		}
		ids = append(ids, ev.ID)
	}
	require.Equal(t, []string{"evt_2"}, ids)
	require.Len(t, errs, 1, "the error ends the iteration")
	var apiErr *Error
	require.ErrorAs(t, errs[0], &apiErr)
	require.Equal(t, "starting_after", apiErr.Param)
	reqs := f.received()
	require.Len(t, reqs, 2, "a 400 is not retried")
	require.Equal(t, "starting_after=evt_2&type=checkout.session.completed", reqs[1].query, "filters are kept across pages")
}

// From EndingBefore, pages go forward in time: each page comes newest
// first, is yielded oldest first, and the next page ends before its
// newest event.
func TestListBackwardRunsForwardInTime(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t,
		answer{body: listJSON(true, eventWithID("evt_3"), eventWithID("evt_2"))},
		answer{body: listJSON(false, eventWithID("evt_5"), eventWithID("evt_4"))},
	)
	var ids []string
	for ev, err := range f.client().Events.List(testContext(t), EventListParams{Limit: 2, EndingBefore: "evt_1"}) {
		require.NoError(t, err)
		ids = append(ids, ev.ID)
	}
	require.Equal(t, []string{"evt_2", "evt_3", "evt_4", "evt_5"}, ids)
	reqs := f.received()
	require.Len(t, reqs, 2)
	require.Equal(t, "ending_before=evt_1&limit=2", reqs[0].query)
	require.Equal(t, "ending_before=evt_3&limit=2", reqs[1].query)
}

func TestListDeliveriesKeepsFilters(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t,
		answer{body: listJSON(true, failedDeliveryJSON)},
		answer{body: listJSON(false, pendingDeliveryJSON)},
	)
	var statuses []string
	for d, err := range f.client().Deliveries.List(testContext(t), DeliveryListParams{EndpointID: "we_7Kp"}) {
		require.NoError(t, err)
		statuses = append(statuses, d.Status)
	}
	require.Equal(t, []string{"failed", "pending"}, statuses)
	reqs := f.received()
	require.Equal(t, "endpoint_id=we_7Kp&starting_after=dlv_3Rz", reqs[1].query)
}
