//go:build pact

package pact

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	pactlog "github.com/pact-foundation/pact-go/v2/log"
)

// Names of the pacticipants, as in the pact files.
const (
	reservationName  = "reservation"
	memberName       = "member"
	roomName         = "room"
	notificationName = "notification"
)

// written is where the consumer tests write their pacts during the run.
// When KEIYAKU_PACT_DIR is set (make pacts, make pacts-check), TestMain
// copies them there if every test passed: a failing run changes nothing,
// and a removed interaction does not linger (the FFI merges into an
// existing file). Otherwise a run writes nothing into the tree, so that
// "make test" cannot hide a stale pacts/ from "make pacts-check".
var written string

// pactDir is where the committed pacts are (and where the provider tests
// read them).
const pactDir = "../pacts"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_ = pactlog.SetLogLevel("ERROR")
	var err error
	if written, err = os.MkdirTemp("", "keiyaku-pacts-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(written)
	code := m.Run()
	if code != 0 {
		return code
	}
	dest := os.Getenv("KEIYAKU_PACT_DIR")
	if dest == "" {
		return 0
	}
	files, err := filepath.Glob(filepath.Join(written, "*.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			err = os.MkdirAll(dest, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dest, filepath.Base(f)), data, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "write pact:", err)
			return 1
		}
	}
	return 0
}
