package generator

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// goldenPackage generates the workspace ws, whose one module has an Avro
// folder and an AsyncAPI document, and compares the two files with those
// of the package folder pkg (-update rewrites them). pkg is a real package
// of this module, so that `go build` and the round-trip tests compile the
// generated code; when a change of the generator or the runtime leaves it
// unbuildable, the round-trip test does not compile and -update cannot
// run: set that test file aside, run -update, put it back.
func goldenPackage(t *testing.T, ws, pkg string) []File {
	t.Helper()
	files, err := Generate(t.Context(), loadWS(t, ws))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files generated, want avro and events", len(files))
	}
	for _, f := range files {
		checkGolden(t, f, filepath.Join(pkg, path.Base(f.Path)))
	}
	return files
}

// checkGolden compares the generated file f with the golden file, which
// -update rewrites instead.
func checkGolden(t *testing.T, f File, golden string) {
	t.Helper()
	if *update {
		if err := writeFile(golden, f.Content); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, f.Content) {
		t.Errorf("%s differs from %s; run go test -update and review the diff", f.Path, golden)
	}
}
