package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The overview's charts: the last day of deliveries, an hour a point,
// drawn on the server as inline SVG (the CSP allows no script, and no
// chart library is fetched from anywhere).

// Chart span and resolution.
const (
	// ChartWindow is how far back the charts go.
	ChartWindow = 24 * time.Hour
	// ChartBucket is the span of one point.
	ChartBucket = time.Hour
	// ChartBuckets is the number of points of each chart.
	ChartBuckets = int(ChartWindow / ChartBucket)
	// LagSample bounds the first attempts whose lag a bucket's p99 is
	// taken from (its latest), so a busy day costs no more than this per
	// hour in lookups of the deliveries table.
	LagSample = 1000
)

// Charts are the overview's series: ChartBuckets points, oldest first,
// the first starting at Since, every bucket present (empty ones count
// zero).
type Charts struct {
	Since  time.Time
	Points []ChartPoint
}

// ChartPoint is one bucket of the series.
type ChartPoint struct {
	Start time.Time
	// Attempts made in the bucket (retries included), and those that got
	// a 2xx.
	Attempts  int
	Succeeded int
	// LagCount first attempts (at most LagSample) gave LagP99, the p99 of
	// their delay from commit to first attempt.
	LagCount int
	LagP99   time.Duration
}

// The SVG's coordinate system: a viewBox about as wide as a phone, so
// that its text stays legible from 390 px up (a chart is never wider than
// a third of the page on a desktop either).
const (
	chartWidth  = 360.0
	chartHeight = 180.0
	plotLeft    = 46.0
	plotRight   = 352.0
	plotTop     = 12.0
	plotBottom  = 150.0
	// xLabelEvery is how many buckets apart the time axis is labelled.
	xLabelEvery = 6
)

// chartView is one chart laid out for the SVG template.
type chartView struct {
	// ID prefixes the element ids: the chart is #chart-ID.
	ID      string
	Title   string
	Desc    string
	Summary string
	// Header names the table's value column.
	Header string
	Width  float64
	Height float64
	// Bars draws bars (volumes); otherwise a line through dots, broken
	// where a bucket has no data.
	Bars   bool
	Paths  []string
	Marks  []chartMark
	YTicks []chartTick
	XTicks []chartTick
	Left   float64
	Right  float64
	Bottom float64
	Rows   []chartRow
}

// chartMark is one bucket's dot or bar, with what it stands for.
type chartMark struct {
	X, Y, W, H float64
	// Bucket is the bucket's start (RFC 3339, UTC); Value the plotted
	// number as text; Label what a person reads on hover.
	Bucket string
	Value  string
	Label  string
}

// chartTick is an axis label at a position (x or y).
type chartTick struct {
	Pos   float64
	Label string
}

// chartRow is one bucket in the table beside a chart.
type chartRow struct {
	Hours string
	Value string
}

// series is what a chart plots: per bucket, a value or none.
type series struct {
	id, title, desc, header string
	bars                    bool
	values                  []float64
	has                     []bool
	// top is the scale's maximum; 0 picks a round one above the data.
	top float64
	// mark formats a value for data-value; show for people.
	mark, show func(float64) string
}

// layout places s on the chart's axes.
func layout(s series, points []ChartPoint, now time.Time) chartView {
	n := len(points)
	v := chartView{ID: s.id, Title: s.title, Desc: s.desc, Header: s.header, Width: chartWidth, Height: chartHeight,
		Bars: s.bars, Left: plotLeft, Right: plotRight, Bottom: plotBottom}
	top := s.top
	if top == 0 {
		for i, x := range s.values {
			if s.has[i] && x > top {
				top = x
			}
		}
		top = niceCeil(top)
	}
	step := (plotRight - plotLeft) / float64(n)
	y := func(x float64) float64 { return plotBottom - (plotBottom-plotTop)*min(x, top)/top }
	for _, f := range []float64{0, 0.5, 1} {
		v.YTicks = append(v.YTicks, chartTick{Pos: round2(y(top * f)), Label: s.show(top * f)})
	}
	for i := 0; i <= n; i += xLabelEvery {
		label := "now"
		if i < n {
			label = fmt.Sprintf("−%d h", int(now.Sub(points[i].Start).Round(time.Hour)/time.Hour))
		}
		v.XTicks = append(v.XTicks, chartTick{Pos: round2(plotLeft + float64(i)*step), Label: label})
	}
	var path strings.Builder
	for i, p := range points {
		hours := p.Start.UTC().Format("15:04") + "–" + p.Start.Add(ChartBucket).UTC().Format("15:04")
		if !s.has[i] {
			v.Rows = append(v.Rows, chartRow{Hours: hours, Value: "—"})
			if path.Len() > 0 {
				v.Paths = append(v.Paths, path.String())
				path.Reset()
			}
			continue
		}
		x := s.values[i]
		m := chartMark{Bucket: p.Start.UTC().Format(time.RFC3339), Value: s.mark(x), Label: hours + " UTC: " + s.show(x)}
		if s.bars {
			m.X, m.W = round2(plotLeft+float64(i)*step+1), round2(step-2)
			m.Y = round2(y(x))
			m.H = round2(plotBottom - m.Y)
		} else {
			m.X, m.Y = round2(plotLeft+(float64(i)+0.5)*step), round2(y(x))
			if path.Len() == 0 {
				fmt.Fprintf(&path, "M%g %g", m.X, m.Y)
			} else {
				fmt.Fprintf(&path, " L%g %g", m.X, m.Y)
			}
		}
		v.Marks = append(v.Marks, m)
		v.Rows = append(v.Rows, chartRow{Hours: hours, Value: s.show(x)})
	}
	if path.Len() > 0 {
		v.Paths = append(v.Paths, path.String())
	}
	return v
}

// niceCeil is the round number at or above x that a scale tops out at:
// 1, 2, 2.5 or 5 times a power of ten (1 for nothing to show).
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if x <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// overviewCharts lays out the three charts of the overview: success rate,
// p99 first-attempt lag and attempts a minute, each with a summary line.
func overviewCharts(c *Charts, now time.Time) []chartView {
	n := len(c.Points)
	rate, lag, volume := make([]float64, n), make([]float64, n), make([]float64, n)
	hasRate, hasLag, all := make([]bool, n), make([]bool, n), make([]bool, n)
	var attempts, succeeded int
	worst, worstAt, slowest, slowestAt, busiest, busiestAt := math.Inf(1), -1, time.Duration(0), -1, 0, -1
	for i, p := range c.Points {
		attempts += p.Attempts
		succeeded += p.Succeeded
		all[i] = true
		volume[i] = float64(p.Attempts) / ChartBucket.Minutes()
		if p.Attempts > busiest {
			busiest, busiestAt = p.Attempts, i
		}
		if p.Attempts > 0 {
			hasRate[i] = true
			rate[i] = float64(p.Succeeded) / float64(p.Attempts) * 100
			if rate[i] < worst {
				worst, worstAt = rate[i], i
			}
		}
		if p.LagCount > 0 {
			hasLag[i] = true
			lag[i] = float64(p.LagP99) / float64(time.Millisecond)
			if p.LagP99 > slowest {
				slowest, slowestAt = p.LagP99, i
			}
		}
	}
	at := func(i int) string { return c.Points[i].Start.UTC().Format("15:04") + " UTC" }
	percent := func(x float64) string { return formatRate(x / 100) }
	millis := func(x float64) string { return shortDuration(time.Duration(x * float64(time.Millisecond))) }
	perMinute := func(x float64) string {
		switch {
		case x >= 10 || x == 0:
			return formatCount(int(math.Round(x))) + "/min"
		case x >= 1:
			return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) + "/min"
		}
		return strconv.FormatFloat(x, 'g', 2, 64) + "/min"
	}

	success := layout(series{id: "success", title: "Success rate, last 24 hours",
		desc:   "Share of delivery attempts that got a 2xx, per hour; gaps are hours without an attempt.",
		header: "2xx", values: rate, has: hasRate, top: 100,
		mark: func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }, show: percent}, c.Points, now)
	success.Summary = "No attempt in the last 24 hours."
	if attempts > 0 {
		success.Summary = fmt.Sprintf("%s of %s %s got a 2xx; lowest hour %s at %s.", formatRate(ratio(succeeded, attempts)),
			formatCount(attempts), plural(attempts, "attempt", "attempts"), percent(worst), at(worstAt))
	}

	p99 := layout(series{id: "lag", title: "p99 first-attempt lag, last 24 hours",
		desc:   "99th percentile of the time from commit to first attempt, per hour; gaps are hours without a first attempt.",
		header: "p99", values: lag, has: hasLag,
		mark: func(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }, show: millis}, c.Points, now)
	p99.Summary = "No first attempt in the last 24 hours."
	if slowestAt >= 0 {
		p99.Summary = fmt.Sprintf("Slowest hour: %s at %s.", shortDuration(slowest), at(slowestAt))
	}

	rateChart := layout(series{id: "volume", title: "Deliveries a minute, last 24 hours",
		desc:   "Delivery attempts a minute (retries included), averaged over each hour.",
		header: "attempts", values: volume, has: all, bars: true,
		mark: func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }, show: perMinute}, c.Points, now)
	rateChart.Summary = "No attempt in the last 24 hours."
	if attempts > 0 {
		rateChart.Summary = fmt.Sprintf("%s %s in 24 hours; busiest hour %s at %s.", formatCount(attempts),
			plural(attempts, "attempt", "attempts"), perMinute(volume[busiestAt]), at(busiestAt))
	}
	return []chartView{success, p99, rateChart}
}

// shortDuration shows a lag for an axis: whole milliseconds below a
// second, seconds with up to two decimals above.
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(math.Round(d.Seconds()*100)/100, 'f', -1, 64) + " s"
}
