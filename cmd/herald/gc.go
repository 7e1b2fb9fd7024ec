package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's GOGC when the environment
// sets none: the heap may grow 200 % between collections instead of Go's
// 100 %. A busy worker allocates for every attempt (the request and its
// response, River's job, the attempt record); at Go's default, a bulk drain
// collected five times a second over a live heap of about 35 MB. At 200 it
// used 10-18 % less of the process's CPU for about 35 MB more heap (make
// bench, four alternated runs). An operator's GOGC wins, and GOMEMLIMIT
// still bounds the heap in a small container.
const defaultGCPercent = 200

// gcPercent is the GOGC Herald sets, and false when the environment's is
// to be left as the runtime read it.
func gcPercent(getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	return defaultGCPercent, true
}

// tuneGC applies gcPercent. herald serve and herald bench call it: the
// bench measures Herald as it runs, and River's ceilings, in the same
// process, under the same collector.
func tuneGC(getenv func(string) string) {
	if p, ok := gcPercent(getenv); ok {
		debug.SetGCPercent(p)
	}
}
