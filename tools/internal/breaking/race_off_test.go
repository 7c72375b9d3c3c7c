//go:build !race

package breaking

const raceEnabled = false
