//go:build pact

package pact

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallIdempotent pins the promises of install.sh: on an empty
// folder it installs libpact_ffi; run again it changes nothing and says
// so; a broken install (an empty library, as pact-go's own downloader
// leaves behind) is replaced.
func TestInstallIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib", "libpact_ffi.so")
	install := func(want string) {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "./install.sh", dir, "lib").CombinedOutput()
		if err != nil {
			t.Fatalf("install.sh: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), want) {
			t.Fatalf("install.sh said %q, want %q", out, want)
		}
		if st, err := os.Stat(lib); err != nil || st.Size() == 0 {
			t.Fatalf("no library after install.sh: %v", err)
		}
	}
	install("installed libpact_ffi")
	before, err := os.Stat(lib)
	if err != nil {
		t.Fatal(err)
	}
	install("already in")
	after, err := os.Stat(lib)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("the second run rewrote the library")
	}
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	install("installed libpact_ffi")
}

// TestInstallCLIIdempotent pins install.sh cli: on an empty folder it
// installs the pact binary, whose verifier runs; run again it changes
// nothing and says so.
func TestInstallCLIIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, want := range []string{"installed the Pact CLI", "already in"} {
		out, err := exec.CommandContext(t.Context(), "./install.sh", dir, "cli").CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("install.sh cli: %v, said %q, want %q", err, out, want)
		}
	}
	ver := exec.CommandContext(t.Context(), filepath.Join(dir, "bin", "pact"), "verifier", "--version")
	ver.Env = append(os.Environ(), "PACT_DO_NOT_TRACK=true")
	if out, err := ver.CombinedOutput(); err != nil || !strings.Contains(string(out), "pact verifier version") {
		t.Fatalf("pact verifier --version: %v\n%s", err, out)
	}
}
