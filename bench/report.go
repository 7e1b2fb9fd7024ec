package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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
	Note    string  `json:"note,omitempty"`
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
	fmt.Fprintln(tw, "scenario\tevents\tper second\tp50 ms\tp95 ms\tp99 ms\tceiling\tratio\t")
	for _, row := range r.Rows {
		ratio := "-"
		if row.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", row.Ratio)
		}
		ceiling := row.Ceiling
		if ceiling == "" {
			ceiling = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", row.Scenario, row.Events, row.PerSecond, row.P50, row.P95, row.P99, ceiling, ratio)
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
		_, err := fmt.Fprintln(w, "\n"+strings.Join(notes, "\n"))
		return err
	}
	return nil
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
