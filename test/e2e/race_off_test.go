//go:build !race

package e2e

// raceSlowdown scales the suite's latency bounds; without the race detector they hold as written.
const raceSlowdown = 1
