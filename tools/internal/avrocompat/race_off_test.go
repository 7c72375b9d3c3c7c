//go:build !race

package avrocompat_test

const raceEnabled = false
