//go:build !race

package command

// raceEnabled tells tests that the race detector slows this binary down
// several times over.
const raceEnabled = false
