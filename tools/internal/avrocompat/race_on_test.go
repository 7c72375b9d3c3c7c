//go:build race

package avrocompat_test

// raceEnabled: the race detector slows the oracle about tenfold.
const raceEnabled = true
