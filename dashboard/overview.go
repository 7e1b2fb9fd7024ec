package dashboard

import (
	"net/http"
	"slices"
	"time"
)

// queueStates are River's job states in the order the overview shows them
// (completed left out: River keeps those a day, and they wait for nothing).
var queueStates = []string{"available", "scheduled", "retryable", "running", "pending", "discarded", "cancelled"}

// queueTable is the queue depth by state (rows) and queue (columns).
type queueTable struct {
	Queues []string
	Rows   []queueRow
}

type queueRow struct {
	State  string
	Counts []int
}

// newQueueTable lays counts out by state, with a column per queue (the
// delivery queue first) and zeroes where River has no jobs.
func newQueueTable(counts []QueueCount) queueTable {
	t := queueTable{Queues: []string{"delivery", "default"}}
	for _, c := range counts {
		if !slices.Contains(t.Queues, c.Queue) {
			t.Queues = append(t.Queues, c.Queue)
		}
	}
	for _, state := range queueStates {
		t.Rows = append(t.Rows, queueRow{State: state, Counts: make([]int, len(t.Queues))})
	}
	for _, c := range counts {
		if s := slices.Index(queueStates, c.State); s >= 0 {
			t.Rows[s].Counts[slices.Index(t.Queues, c.Queue)] += c.Count
		}
	}
	return t
}

// overviewView is the overview page's data.
type overviewView struct {
	*Overview
	Queues queueTable
	AsOf   time.Time
	// Charts are the last day's success rate, p99 lag and volume.
	Charts []chartView
}

func (d *Dashboard) handleOverview(w http.ResponseWriter, r *http.Request) {
	now := d.cfg.Now()
	o, err := d.cfg.Reads.Overview(r.Context(), now)
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	charts, err := d.cfg.Reads.Charts(r.Context(), now)
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	d.page(w, r, http.StatusOK, "overview", navOverview, "Overview", overviewView{Overview: o, Queues: newQueueTable(o.Queue), AsOf: now,
		Charts: overviewCharts(charts, now)}, refreshEvery(30))
}
