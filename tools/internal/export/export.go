// Package export publishes the contracts of a workspace for consumer teams:
// the files of its modules, read at a version (a git tag, any revision or a
// directory, through [baseline.Baseline.FS]), written to a folder with a
// manifest of their SHA-256 digests.
//
// The files of a module are every file below its folder plus every file its
// contracts reach by $ref outside it (shared definitions, the AsyncAPI
// document and Avro schemas of the channels it receives), so an exported
// module loads and generates on its own. [ModuleFiles] computes that set
// and [Digest] sums it; package deps pins dependencies with the same two
// functions, so a manifest and a keiyaku.lock agree on a module's digest.
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
)

// ManifestFile is the name of the manifest [Write] puts beside the
// exported files.
const ManifestFile = "keiyaku-manifest.json"

// File is one exported file and its content digest.
type File struct {
	// Path is relative to the workspace root, slash-separated.
	Path string `json:"path" yaml:"path"`
	// SHA256 is the hex SHA-256 of the content.
	SHA256 string `json:"sha256" yaml:"sha256"`
}

// Manifest describes an export: where it was read from and what it holds.
type Manifest struct {
	// Source labels the input: "v1.2.0@1a2b3c4" for a git input, the
	// path for a directory.
	Source string `json:"source"`
	// Commit is the full commit id of a git input, empty for a directory.
	Commit string `json:"commit,omitempty"`
	// Modules are the exported module paths, sorted.
	Modules []string `json:"modules"`
	// Digest sums every file, see [Digest].
	Digest string `json:"digest"`
	// Files are the exported files, sorted by path.
	Files []File `json:"files"`
}

// Digest returns the digest of a set of files: "sha256:" and the hex
// SHA-256 of the lines "<sha256>  <path>\n" (sha256sum's format), sorted by
// path. It changes when any file's content or name changes, or a file comes
// or goes.
func Digest(files []File) string {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	for _, f := range sorted {
		fmt.Fprintf(h, "%s  %s\n", f.SHA256, f.Path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Sum returns the hex SHA-256 of data.
func Sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// ModuleFiles returns the workspace-relative paths of the files module m (a
// folder of fsys) needs, sorted: every regular file below it and every file
// its OpenAPI and AsyncAPI documents (default names, or those m names)
// reach by $ref. A contract that does
// not load is an error, as is a symbolic link below the module (it could
// not be exported faithfully) and a module folder that does not exist.
func ModuleFiles(ctx context.Context, fsys fs.FS, m config.Module) ([]string, error) {
	module := m.Path
	set := map[string]bool{}
	err := fs.WalkDir(fsys, module, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == module && errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no module folder %q", module)
			}
			return err
		}
		switch {
		case d.IsDir():
		case d.Type().IsRegular():
			set[p] = true
		default:
			return fmt.Errorf("%s is not a regular file (a symbolic link?); contracts are exported as plain files", p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", module, err)
	}
	docs, err := openapi.DocumentsFS(fsys, module, m.OpenAPIDocFS(fsys))
	if err != nil {
		return nil, err
	}
	loader := openapi.NewLoaderFS(fsys)
	for _, doc := range docs {
		if _, err := loader.Resolve(ctx, doc); err != nil {
			return nil, fmt.Errorf("module %s: %w", module, err)
		}
		for _, p := range loader.Reads() {
			set[p] = true
		}
	}
	if async := m.AsyncAPIDocFS(fsys); set[async] {
		doc, err := asyncapi.LoadFS(ctx, fsys, async)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", module, err)
		}
		for _, p := range doc.Files {
			set[p] = true
		}
	}
	files := make([]string, 0, len(set))
	for p := range set {
		files = append(files, p)
	}
	slices.Sort(files)
	return files, nil
}

// Option configures [Write].
type Option func(*options)

type options struct {
	modules []string
}

// WithModule exports only the module at path p (a module listed in the
// input's keiyaku.yaml), overriding the default: every module of it. It
// may be given more than once.
func WithModule(p string) Option { return func(o *options) { o.modules = append(o.modules, p) } }

// Write exports the contracts of b into the folder dir and returns the
// manifest it wrote there as [ManifestFile]. The modules are those of the
// keiyaku.yaml at b (or those chosen with [WithModule]); each file is
// written at its workspace-relative path. dir must not exist or be empty,
// so that no stale file of an earlier export survives in it. On error the
// folder may hold part of the export.
func Write(ctx context.Context, b *baseline.Baseline, dir string, opts ...Option) (*Manifest, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	fsys := b.FS()
	data, err := fs.ReadFile(fsys, config.FileName)
	if err != nil {
		return nil, fmt.Errorf("export %s: read %s: %w", b.Label(), config.FileName, err)
	}
	cfg, err := config.Parse(config.FileName, data)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", b.Label(), err)
	}
	modules := o.modules
	if len(modules) == 0 {
		for _, m := range cfg.Modules {
			modules = append(modules, m.Path)
		}
	}
	set := map[string]bool{}
	for _, m := range modules {
		mod, ok := cfg.Module(m)
		if !ok {
			known := make([]string, len(cfg.Modules))
			for i, km := range cfg.Modules {
				known[i] = km.Path
			}
			return nil, fmt.Errorf("export %s: no module %q in its keiyaku.yaml; known modules: %s", b.Label(), m, strings.Join(known, ", "))
		}
		files, err := ModuleFiles(ctx, fsys, mod)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", b.Label(), err)
		}
		for _, f := range files {
			set[f] = true
		}
	}
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	man := &Manifest{Source: b.Label(), Commit: b.Commit(), Modules: slices.Compact(slices.Sorted(slices.Values(modules)))}
	for _, p := range slices.Sorted(maps.Keys(set)) {
		content, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", b.Label(), err)
		}
		if err := WriteFile(filepath.Join(dir, filepath.FromSlash(p)), content, 0o644); err != nil {
			return nil, err
		}
		man.Files = append(man.Files, File{Path: p, SHA256: Sum(content)})
	}
	man.Digest = Digest(man.Files)
	out, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := WriteFile(filepath.Join(dir, ManifestFile), append(out, '\n'), 0o644); err != nil {
		return nil, err
	}
	return man, nil
}

// emptyDir creates dir, or accepts it when it exists and is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create output folder: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("output folder: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("output folder %s is not empty; give a new or empty folder so that no stale file survives", dir)
	}
	return nil
}

// WriteFile writes data to file with mode perm, creating its folder, through
// a temporary file and a rename so that no reader sees half a file.
func WriteFile(file string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".keiyaku-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(perm), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
