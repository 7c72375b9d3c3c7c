package export_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/export"
)

// TestGenImportsNoTools pins that the generated packages are importable by
// other modules as they are: nothing under gen/ depends on tools/.
func TestGenImportsNoTools(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", "./gen/...")
	cmd.Dir = "../../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if !slices.Contains(pkgs, "github.com/keiyaku/keiyaku/gen/member/v1") {
		t.Fatalf("go list -deps ./gen/... lists no generated package:\n%s", out)
	}
	for _, p := range pkgs {
		if strings.HasPrefix(p, "github.com/keiyaku/keiyaku/tools/") {
			t.Errorf("gen/ depends on %s", p)
		}
	}
}

// repo makes a git repository holding this repository's contracts and
// keiyaku.yaml, tagged v1, and returns its path and commit.
func repo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "contracts"), os.DirFS("../../../contracts")); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../../../keiyaku.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keiyaku.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgSign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "v1")
	git("tag", "v1")
	return dir, git("rev-parse", "HEAD")
}

// TestWrite pins the export of one module at a tag: its own files plus the
// shared and event files its $refs reach, byte for byte, with a manifest
// whose digests match the files, the source label and commit; that a git
// input and the same directory give the same digest; and that a non-empty
// output folder or an unknown module is refused.
func TestWrite(t *testing.T) {
	t.Parallel()
	dir, commit := repo(t)
	b, err := baseline.Open(t.Context(), baseline.Input{Path: dir, Git: true, Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := filepath.Join(t.TempDir(), "out")
	man, err := export.Write(t.Context(), b, out, export.WithModule("contracts/member/v1"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"contracts/member/v1/asyncapi.yaml",
		"contracts/member/v1/openapi.yaml",
		"contracts/reservation/v1/asyncapi.yaml",
		"contracts/reservation/v1/avro/Money.avsc",
		"contracts/reservation/v1/avro/ReservationCancelled.avsc",
		"contracts/reservation/v1/avro/ReservationCreated.avsc",
		"contracts/shared/v1/problem.yaml",
	}
	var got []string
	for _, f := range man.Files {
		got = append(got, f.Path)
		data, err := os.ReadFile(filepath.Join(out, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(filepath.Join(dir, f.Path))
		if export.Sum(data) != f.SHA256 || string(data) != string(orig) {
			t.Errorf("%s: written bytes differ from the source or the manifest", f.Path)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if man.Source != "v1@"+commit[:7] || man.Commit != commit || !slices.Equal(man.Modules, []string{"contracts/member/v1"}) || man.Digest != export.Digest(man.Files) {
		t.Errorf("manifest = %+v", man)
	}
	var onDisk export.Manifest
	data, err := os.ReadFile(filepath.Join(out, export.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk.Digest != man.Digest || len(onDisk.Files) != len(man.Files) {
		t.Errorf("manifest on disk = %+v, %v", onDisk, err)
	}

	d, err := baseline.Open(t.Context(), baseline.Input{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dman, err := export.Write(t.Context(), d, filepath.Join(t.TempDir(), "dir"), export.WithModule("contracts/member/v1"))
	if err != nil || dman.Digest != man.Digest || dman.Commit != "" {
		t.Errorf("directory export: digest %s (want %s), commit %q, %v", dman.Digest, man.Digest, dman.Commit, err)
	}

	for _, c := range []struct {
		name, out string
		opts      []export.Option
		want      string
	}{
		{"non-empty folder", out, nil, "is not empty"},
		{"unknown module", filepath.Join(t.TempDir(), "x"), []export.Option{export.WithModule("contracts/nope/v1")}, `no module "contracts/nope/v1" in its keiyaku.yaml; known modules: contracts/shared/v1, contracts/member/v1`},
	} {
		if _, err := export.Write(t.Context(), b, c.out, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}

	all, err := export.Write(t.Context(), b, filepath.Join(t.TempDir(), "all"))
	if err != nil || len(all.Modules) != 5 {
		t.Fatalf("export of every module: %v, modules %q", err, all.Modules)
	}
}

// TestModuleFiles pins that a module folder that does not exist is an
// error, not an empty export.
func TestModuleFiles(t *testing.T) {
	t.Parallel()
	_, err := export.ModuleFiles(t.Context(), os.DirFS("../../.."), config.Module{Path: "contracts/nope/v1"})
	if err == nil || !strings.Contains(err.Error(), `no module folder "contracts/nope/v1"`) {
		t.Fatalf("err = %v", err)
	}
}
