package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
)

// TestBreakdown profiles a loop that only encodes and decodes JSON and
// checks that the breakdown puts the largest share of it, allocation
// included, in encoding/json, and that the shares add up to 1.
func TestBreakdown(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	type doc struct {
		Name  string            `json:"name"`
		Tags  []string          `json:"tags"`
		Attrs map[string]string `json:"attrs"`
	}
	in := doc{Name: "reservation", Tags: []string{"a", "b", "c"}, Attrs: map[string]string{"k": "v", "x": "y"}}
	// Enough work for a few dozen samples at 100 Hz, however fast the machine.
	for range 300_000 {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out doc
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ps, err := breakdown(file, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, p := range ps {
		sum += p.share
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("shares add up to %.3f, want 1: %s", sum, shares(ps))
	}
	// Under -race the detector's own C frames, which carry no Go caller,
	// land in the standard library's share: JSON need only be the
	// largest part of the system, and hold a third of the samples.
	var top part
	for _, p := range ps {
		if p.name != partOther && p.name != partGC && p.name != partSched && p.share > top.share {
			top = p
		}
	}
	t.Logf("breakdown: %s", shares(ps))
	if top.name != "JSON (encoding/json)" || top.share < 0.3 {
		t.Errorf("largest part of the system %q (%.0f %%), want JSON with at least 30 %%: %s", top.name, top.share*100, shares(ps))
	}
}

func TestBreakdownErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := breakdown(filepath.Join(dir, "missing.pprof"), 0.02); err == nil {
		t.Error("a missing file: no error")
	}
	bad := filepath.Join(dir, "bad.pprof")
	if err := os.WriteFile(bad, []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := breakdown(bad, 0.02); err == nil {
		t.Error("a file that is not a profile: no error")
	}
}

func TestPartOf(t *testing.T) {
	for fn, want := range map[string]string{
		"modernc.org/sqlite/lib.Xsqlite3VdbeExec":                           "SQLite (modernc.org/sqlite, its libc)",
		"github.com/twmb/franz-go/pkg/kfake.(*Cluster).run":                 "Kafka client and embedded broker (franz-go, kfake)",
		"net/http.(*conn).serve":                                            "HTTP and TCP (net/http, net, syscalls)",
		"github.com/keiyaku/keiyaku/runtime/outbox.(*Relay).Run":            "Keiyaku (runtime, services, gen, tools)",
		"go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).SetAttributes": "OpenTelemetry",
		"runtime.mallocgc":               "", // charged to its caller
		"strings.(*Builder).WriteString": "",
	} {
		if got := partOf(fn); got != want {
			t.Errorf("partOf(%q) = %q, want %q", fn, got, want)
		}
	}
}

// TestInModule pins where go test runs for a package: in the module that
// holds it (the runtime's packages are modules of their own, which
// "go test ./runtime/events/" from the repository root refuses).
func TestInModule(t *testing.T) {
	root := "../../.."
	for pkg, want := range map[string][2]string{
		root + "/runtime/events/":          {root + "/runtime", "./events"},
		root + "/runtime/outbox/":          {root + "/runtime/outbox", "./."},
		root + "/tools/internal/breaking/": {root, "./tools/internal/breaking"},
	} {
		dir, rel := inModule(pkg)
		if filepath.Clean(dir) != filepath.Clean(want[0]) || rel != want[1] {
			t.Errorf("inModule(%q) = %q, %q; want %q, %q", pkg, dir, rel, want[0], want[1])
		}
	}
}
