package generator

import (
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

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// CacheFile is where the last generation is remembered, relative to the
// workspace root. The folder is meant to be git-ignored.
const CacheFile = ".keiyaku/cache/generate.json"

// cacheEntry records one generation: the generator that ran, the
// configuration, every file it read with its digest and every file it
// wrote with its digest, and the listing of the contract folders. While
// all of them still match, generating again would give the same bytes.
type cacheEntry struct {
	Generator string            `json:"generator"`
	Config    string            `json:"config"`
	Inputs    map[string]string `json:"inputs"`
	Outputs   map[string]string `json:"outputs"`
	// Listing is the digest of the names of every file in the contract
	// modules: a file added next to the ones read (a new .avsc a folder
	// load would pick up) changes it, though no recorded input changed.
	Listing string `json:"listing"`
}

// UpToDate reports whether the generated files of cfg are exactly what the
// last generation by the same generator wrote from the same inputs, so that
// generating again would change nothing. generator identifies the running
// generator (e.g. its executable's size and modification time); a
// different one never matches. Any doubt (no record, an unreadable file)
// answers false. "generate --check" does not use this: it always
// regenerates. A workspace with deps is never up to date: generation
// checks their copies against keiyaku.lock every time.
func UpToDate(cfg *config.Config, generator string) bool {
	if len(cfg.Deps) > 0 {
		return false
	}
	data, err := os.ReadFile(filepath.Join(cfg.Root, CacheFile))
	if err != nil {
		return false
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.Generator != generator || e.Config != digestFile(cfg.Root, filepath.Base(cfg.File)) {
		return false
	}
	if listing, err := moduleListing(cfg); err != nil || listing != e.Listing {
		return false
	}
	plan := Plan(cfg)
	if len(plan) != len(e.Outputs) {
		return false
	}
	for _, t := range plan {
		if want, ok := e.Outputs[t.Path]; !ok || digestFile(cfg.Root, t.Path) != want {
			return false
		}
	}
	for p, want := range e.Inputs {
		if digestFile(cfg.Root, p) != want {
			return false
		}
	}
	orphans, err := findGenerated(cfg.Root, cfg.Generate.Out)
	if err != nil {
		return false
	}
	return slices.Equal(orphans, slices.Sorted(maps.Keys(e.Outputs)))
}

// Remember records a generation that wrote files, for UpToDate. A
// generation that omitted a file (see [File.Omitted]) is not recorded, and
// any record is dropped: the next run generates again and says again what
// it leaves out.
func Remember(cfg *config.Config, generator string, files []File) error {
	if slices.ContainsFunc(files, func(f File) bool { return f.Omitted }) {
		return Forget(cfg.Root)
	}
	e := cacheEntry{
		Generator: generator,
		Config:    digestFile(cfg.Root, filepath.Base(cfg.File)),
		Inputs:    map[string]string{},
		Outputs:   map[string]string{},
	}
	listing, err := moduleListing(cfg)
	if err != nil {
		return fmt.Errorf("save generate cache: %w", err)
	}
	e.Listing = listing
	for _, f := range files {
		e.Outputs[f.Path] = digest(f.Content)
		for _, in := range f.Inputs {
			e.Inputs[in] = digestFile(cfg.Root, in)
		}
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode generate cache: %w", err)
	}
	if err := writeFile(filepath.Join(cfg.Root, CacheFile), data); err != nil {
		return fmt.Errorf("save generate cache: %w", err)
	}
	return nil
}

// Forget drops the record, so that the next generation runs in full.
func Forget(root string) error {
	if err := os.Remove(filepath.Join(root, CacheFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove generate cache: %w", err)
	}
	return nil
}

// moduleListing digests the sorted workspace-relative names of every file
// below the folders of cfg's modules.
func moduleListing(cfg *config.Config) (string, error) {
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return "", err
	}
	defer root.Close()
	var names []string
	for _, m := range cfg.Modules {
		err := fs.WalkDir(root.FS(), m.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				names = append(names, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("list %s: %w", m.Path, err)
		}
	}
	slices.Sort(names)
	return digest([]byte(strings.Join(names, "\x00"))), nil
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// digestFile hashes a file given relative to root (or absolute); a file
// that cannot be read hashes to "" and so never matches a record.
func digestFile(root, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, filepath.FromSlash(p))
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return digest(data)
}
