package bench

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// CPUTimes are a Linux machine's CPU counters, the aggregate "cpu" line
// of /proc/stat, in clock ticks summed over every CPU.
type CPUTimes struct {
	Total, Steal uint64
}

// ParseCPUTimes reads the aggregate line of /proc/stat; ok is false when
// there is none (not Linux) or it is too short to have a steal column
// (kernels before 2.6.11).
func ParseCPUTimes(procStat []byte) (_ CPUTimes, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(procStat))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "cpu" {
			continue
		}
		// user nice system idle iowait irq softirq steal [guest guest_nice]:
		// guest time is already counted in user and nice.
		if len(fields) < 9 {
			return CPUTimes{}, false
		}
		var t CPUTimes
		for i, f := range fields[1:9] {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return CPUTimes{}, false
			}
			t.Total += n
			if i == 7 {
				t.Steal = n
			}
		}
		return t, true
	}
	return CPUTimes{}, false
}

// StealShare is the share of the CPU time from `from` to t that the
// hypervisor gave to other guests: on a shared virtual machine, the slow
// minutes no change of Herald's explains. 0 when no time was counted.
func (t CPUTimes) StealShare(from CPUTimes) float64 {
	if t.Total <= from.Total || t.Steal < from.Steal {
		return 0
	}
	return float64(t.Steal-from.Steal) / float64(t.Total-from.Total)
}
