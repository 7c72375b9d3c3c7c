//go:build race

package breaking

// raceEnabled: the race detector makes the Stripe pair take minutes.
const raceEnabled = true
