package baseline

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/fstest"
	"time"
)

// TestFS runs io/fs's own conformance test on the file system of a git
// baseline and of a directory baseline holding the same files: Open, Read,
// Seek, ReadDir (whole and in pieces), Stat, ReadFile and WalkDir agree.
func TestFS(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	files := map[string]string{
		"ws/keiyaku.yaml":                "version: v1\n",
		"ws/contracts/a/v1/openapi.yaml": "openapi: 3.0.3\n",
		"ws/contracts/a/v1/avro/X.avsc":  `{"type":"record","name":"X","fields":[]}`,
		"ws/contracts/a/v1/avro/Y.avsc":  `{"type":"record","name":"Y","fields":[]}`,
		"ws/contracts/a-b/readme.md":     "sorts between a and a/ in git's order\n",
		"ws/contracts/a.txt":             "also\n",
		"ws/empty":                       "",
		"outside/secret":                 "not in the workspace\n",
	}
	r.commit("files", files)
	want := []string{"keiyaku.yaml", "contracts/a/v1/openapi.yaml", "contracts/a/v1/avro/X.avsc", "contracts/a-b/readme.md", "contracts/a.txt", "empty"}

	b, err := Open(t.Context(), mustParse(t, ".git#subdir=ws"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := fstest.TestFS(b.FS(), want...); err != nil {
		t.Error(err)
	}
	st, err := fs.Stat(b.FS(), "contracts/a/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := strconv.ParseInt(r.git("log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(len(files["ws/contracts/a/v1/openapi.yaml"])) || st.Mode() != 0o444 || !st.ModTime().Equal(time.Unix(ct, 0)) {
		t.Errorf("Stat = size %d, mode %v, time %v", st.Size(), st.Mode(), st.ModTime())
	}
	if _, err := fs.Stat(b.FS(), "../outside/secret"); err == nil {
		t.Error("a path above the workspace folder was read")
	}

	d, err := Open(t.Context(), mustParse(t, filepath.Join(r.dir, "ws")))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := fstest.TestFS(d.FS(), want...); err != nil {
		t.Error(err)
	}
}

// TestFSSubmoduleAndMode pins that an executable file keeps its mode and
// a submodule (a commit inside a tree) is left out rather than failing.
func TestFSSubmoduleAndMode(t *testing.T) {
	t.Parallel()
	sub := newTestRepo(t)
	sub.commit("sub", map[string]string{"f": "f\n"})
	r := newTestRepo(t)
	r.write(map[string]string{"run.sh": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(r.dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.dir, "vendored")
	r.commit("with submodule", nil)

	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	entries, err := fs.ReadDir(b.FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != ".gitmodules" || names[1] != "run.sh" {
		t.Errorf("ReadDir(.) = %v, want [.gitmodules run.sh]", names)
	}
	st, err := fs.Stat(b.FS(), "run.sh")
	if err != nil || st.Mode() != 0o555 {
		t.Errorf("Stat(run.sh) = %v, %v; want mode 0555", st, err)
	}
	if _, err := b.ReadFile("vendored/f"); err == nil {
		t.Error("a file inside a submodule was read")
	}
}
