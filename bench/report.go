package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one scenario's result.
type Row struct {
	Scenario string `json:"scenario"`
	Events   int    `json:"events"`
	// PerSecond is deliveries (or jobs) per second.
	PerSecond float64 `json:"per_second"`
	P50       Millis  `json:"p50_ms"`
	P95       Millis  `json:"p95_ms"`
	P99       Millis  `json:"p99_ms"`
	// Ceiling names the ceiling scenario compared against, and Ratio is
	// this row's figure over the ceiling's (throughput, or p99 for lag rows).
	Ceiling string  `json:"ceiling,omitempty"`
	Ratio   float64 `json:"ratio,omitempty"`
	// Cost is Postgres's cost per delivered event (per job for River's
	// rows), and CostRatio the same over River's no-op job's.
	Cost      *Cost  `json:"cost,omitempty"`
	CostRatio *Cost  `json:"cost_ratio,omitempty"`
	Note      string `json:"note,omitempty"`
	// Trials are every run of a repeated scenario, in the order they ran;
	// the row's own figures are those of the run MedianTrial chose.
	Trials []Trial `json:"trials,omitempty"`
}

// Trial is one run of a repeated scenario.
type Trial struct {
	PerSecond float64 `json:"per_second"`
	P50       Millis  `json:"p50_ms"`
	P95       Millis  `json:"p95_ms"`
	P99       Millis  `json:"p99_ms"`
	// HostSteal is the run's Cost.HostSteal.
	HostSteal float64 `json:"host_steal,omitempty"`
}

// MedianTrial returns the run whose key is the median of runs' (the lower
// middle one of an even number), with every run in Trials. A noisy
// machine's slow minutes then land in one run, not in the verdict, and the
// row stays one real run: its rate, latencies and cost measured together.
func MedianTrial(runs []Row, key func(Row) float64) Row {
	if len(runs) == 0 {
		return Row{}
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b Row) int { return cmp.Compare(key(a), key(b)) })
	median := sorted[(len(sorted)-1)/2]
	median.Trials = make([]Trial, len(runs))
	for i, r := range runs {
		median.Trials[i] = Trial{PerSecond: r.PerSecond, P50: r.P50, P95: r.P95, P99: r.P99}
		if r.Cost != nil {
			median.Trials[i].HostSteal = r.Cost.HostSteal
		}
	}
	return median
}

// ByP99 keys latency runs for MedianTrial: the steady scenarios.
func ByP99(r Row) float64 { return float64(r.P99) }

// ByRate keys throughput runs for MedianTrial: the ceilings and drains.
func ByRate(r Row) float64 { return r.PerSecond }

// Cost is what Postgres spent per unit of work: independent of the
// machine's speed, unlike rates and latencies.
type Cost struct {
	// WALBytes is write-ahead log written.
	WALBytes float64 `json:"wal_bytes"`
	// RowsWritten counts rows inserted, updated and deleted, in every table.
	RowsWritten float64 `json:"rows_written"`
	// HOTShare is the share of updates that were heap-only (no index
	// touched).
	HOTShare float64 `json:"hot_share"`
	// StatementMS is Postgres's execution time (pg_stat_statements); -1
	// when the extension is not loaded.
	StatementMS float64 `json:"statement_ms"`
	// WALByTable splits WALBytes by what was written (pg_walinspect),
	// largest first; empty when the extension is not there.
	WALByTable []WALShare `json:"wal_by_table,omitempty"`
	// HostSteal is not Postgres's: the share of this machine's CPU time
	// that its hypervisor gave to other guests meanwhile (steal, from
	// /proc/stat; 0 off Linux), measured with the cost so that a slow run
	// on a shared virtual machine says so.
	HostSteal float64 `json:"host_steal,omitempty"`
}

// WALShare is the WAL written for one table's rows or for its indexes, or
// for records of no table (commits: the resource manager's name).
type WALShare struct {
	Table string `json:"table"`
	// Part is "rows" (the heap), "indexes", or "" for no table.
	Part  string  `json:"part,omitempty"`
	Bytes float64 `json:"bytes"`
}

// Over returns c's figures divided by base's (HOTShare is left out).
func (c *Cost) Over(base *Cost) *Cost {
	if c == nil || base == nil {
		return nil
	}
	div := func(a, b float64) float64 {
		if b <= 0 || a < 0 {
			return 0
		}
		return a / b
	}
	return &Cost{WALBytes: div(c.WALBytes, base.WALBytes), RowsWritten: div(c.RowsWritten, base.RowsWritten),
		StatementMS: div(c.StatementMS, base.StatementMS)}
}

// Millis is a duration reported in milliseconds.
type Millis time.Duration

// MarshalJSON writes milliseconds with microsecond precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(m)/float64(time.Millisecond))), nil
}

func (m Millis) String() string {
	if m == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(m)/float64(time.Millisecond))
}

// Report is the whole run.
type Report struct {
	Machine  string            `json:"machine"`
	Started  time.Time         `json:"started"`
	Settings map[string]string `json:"settings"`
	Rows     []Row             `json:"rows"`
}

// WriteTable prints the report as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tevents\tper second\tp50 ms\tp95 ms\tp99 ms\tceiling\tratio\tWAL B\trows\tHOT\tstmt ms\tcost × river (WAL/rows/stmt)\t")
	for _, row := range r.Rows {
		ratio := "-"
		if row.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", row.Ratio)
		}
		ceiling := row.Ceiling
		if ceiling == "" {
			ceiling = "-"
		}
		wal, rows, hot, stmt, vs := "-", "-", "-", "-", "-"
		if c := row.Cost; c != nil {
			wal, rows, hot = fmt.Sprintf("%.0f", c.WALBytes), fmt.Sprintf("%.1f", c.RowsWritten), fmt.Sprintf("%.0f%%", 100*c.HOTShare)
			if c.StatementMS >= 0 {
				stmt = fmt.Sprintf("%.3f", c.StatementMS)
			}
		}
		if c := row.CostRatio; c != nil {
			vs = fmt.Sprintf("%.2f / %.2f / %.2f", c.WALBytes, c.RowsWritten, c.StatementMS)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Scenario, row.Events, row.PerSecond,
			row.P50, row.P95, row.P99, ceiling, ratio, wal, rows, hot, stmt, vs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, row := range r.Rows {
		if row.Note != "" {
			notes = append(notes, "  "+row.Scenario+": "+row.Note)
		}
	}
	if len(notes) > 0 {
		if _, err := fmt.Fprintln(w, "\n"+strings.Join(notes, "\n")); err != nil {
			return err
		}
	}
	if err := r.writeTrials(w); err != nil {
		return err
	}
	return r.writeWALProfile(w)
}

// writeTrials prints every run of each repeated scenario, so the spread
// the row's median hides is in the report too.
func (r *Report) writeTrials(w io.Writer) error {
	var lines []string
	for _, row := range r.Rows {
		if len(row.Trials) < 2 {
			continue
		}
		p99s, rates, steals := make([]string, len(row.Trials)), make([]string, len(row.Trials)), make([]string, len(row.Trials))
		stolen := false
		for i, t := range row.Trials {
			p99s[i], rates[i], steals[i] = t.P99.String(), fmt.Sprintf("%.0f", t.PerSecond), fmt.Sprintf("%.0f", 100*t.HostSteal)
			stolen = stolen || t.HostSteal > 0
		}
		line := "  " + row.Scenario + ": "
		if row.P99 != 0 {
			line += "p99 " + strings.Join(p99s, " · ") + " ms; "
		}
		line += "per second " + strings.Join(rates, " · ")
		if stolen {
			line += "; host CPU steal " + strings.Join(steals, " · ") + " %"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return nil
	}
	_, err := fmt.Fprintln(w, "\nTrials, in the order they ran (each row above is the median one: by p99 where there is a p99, else by rate):\n"+
		strings.Join(lines, "\n"))
	return err
}

// writeWALProfile prints, for each row that has one, where its WAL bytes
// per unit went: the profile that says which writes to cut.
func (r *Report) writeWALProfile(w io.Writer) error {
	var lines []string
	for _, row := range r.Rows {
		if row.Cost == nil || len(row.Cost.WALByTable) == 0 {
			continue
		}
		parts := make([]string, 0, len(row.Cost.WALByTable))
		for _, sh := range row.Cost.WALByTable {
			if sh.Bytes < 20 {
				continue // noise: autovacuum, the bench's own reads
			}
			name := sh.Table
			if sh.Part != "" {
				name += " " + sh.Part
			}
			parts = append(parts, fmt.Sprintf("%s %.0f", name, sh.Bytes))
		}
		lines = append(lines, "  "+row.Scenario+": "+strings.Join(parts, " · "))
	}
	if len(lines) == 0 {
		return nil
	}
	_, err := fmt.Fprintln(w, "\nWAL bytes per unit, by table (pg_walinspect):\n"+strings.Join(lines, "\n"))
	return err
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
