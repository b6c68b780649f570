//go:build race

package e2e

// raceSlowdown scales the suite's latency bounds: the race detector makes this process (kube-apiserver,
// the aggregator and the apps.cozy.io servers all run in it) several times slower.
const raceSlowdown = 5
