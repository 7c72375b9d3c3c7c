package scaffold

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Kind is the kind of a contract file.
type Kind string

// The kinds of contract files Discover finds.
const (
	OpenAPI  Kind = "OpenAPI"
	AsyncAPI Kind = "AsyncAPI"
	Avro     Kind = "Avro"
)

// Found is a contract file found in a repository.
type Found struct {
	// Path is the file's path from the repository root, forward slashes.
	Path string
	Kind Kind
	// Module is the folder keiyaku.yaml lists for the file: the file's
	// folder, or for an Avro schema in a folder named avro its parent.
	Module string
}

// skipDirs are folders Discover never enters: version control, tools'
// caches and generated or vendored code.
var skipDirs = []string{".git", ".keiyaku", "node_modules", "vendor", "gen", "testdata", ".github"}

// sniffSize is how much of a YAML or JSON file Discover reads to find its
// openapi or asyncapi key.
const sniffSize = 4096

// Discover walks fsys (a repository) and returns its OpenAPI documents
// (a top-level openapi key), AsyncAPI documents (asyncapi key) and Avro
// schemas (*.avsc), sorted by path.
func Discover(fsys fs.FS) ([]Found, error) {
	var found []Found
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && slices.Contains(skipDirs, d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		dir := path.Dir(p)
		switch ext := path.Ext(p); ext {
		case ".avsc":
			mod := dir
			if path.Base(dir) == "avro" && dir != "avro" {
				mod = path.Dir(dir)
			}
			found = append(found, Found{Path: p, Kind: Avro, Module: mod})
		case ".yaml", ".yml", ".json":
			kind, err := sniff(fsys, p)
			if err != nil {
				return err
			}
			if kind != "" {
				found = append(found, Found{Path: p, Kind: kind, Module: dir})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find contracts: %w", err)
	}
	return found, nil
}

// sniff returns the kind of the YAML or JSON document at p from its first
// bytes, or "" when it is neither OpenAPI nor AsyncAPI.
func sniff(fsys fs.FS, p string) (Kind, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, sniffSize)
	n, _ := f.Read(buf)
	for line := range bytes.Lines(buf[:n]) {
		s := strings.TrimSpace(string(line))
		s = strings.TrimLeft(s, "{")
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "openapi:"), strings.HasPrefix(s, `"openapi"`):
			// Only a top-level key: YAML at column 0, or the JSON key.
			if line[0] == 'o' || strings.HasPrefix(s, `"openapi"`) {
				return OpenAPI, nil
			}
		case strings.HasPrefix(s, "asyncapi:"), strings.HasPrefix(s, `"asyncapi"`):
			if line[0] == 'a' || strings.HasPrefix(s, `"asyncapi"`) {
				return AsyncAPI, nil
			}
		}
	}
	return "", nil
}

// Config returns the keiyaku.yaml of a repository whose contracts are
// found: one module per folder, each with a comment naming its files.
// Files keep their names: a folder's one OpenAPI (AsyncAPI) document under
// a name other than the defaults (openapi.yaml/.yml/.json) is named with
// openapi: (asyncapi:); where a folder holds several, generate reads the
// default one and a comment says so; an Avro schema outside an avro/
// folder is read only through a payload $ref, and a comment says so too.
func Config(found []Found) []byte {
	var b strings.Builder
	b.WriteString("# keiyaku.yaml: written by keiyaku init from the contracts found in this\n")
	b.WriteString("# repository (reference: the \"keiyaku.yaml reference\" section of Keiyaku's\n")
	b.WriteString("# README). Set service: on the modules a service of yours owns.\n")
	b.WriteString("version: v1\n\nmodules:\n")
	byModule := map[string][]Found{}
	var mods []string
	for _, f := range found {
		if _, ok := byModule[f.Module]; !ok {
			mods = append(mods, f.Module)
		}
		byModule[f.Module] = append(byModule[f.Module], f)
	}
	slices.Sort(mods)
	for _, m := range mods {
		fmt.Fprintf(&b, "  - path: %s\n", m)
		count := map[Kind]int{}
		for _, f := range byModule[m] {
			count[f.Kind]++
		}
		var keys []string
		for _, f := range byModule[m] {
			rel := strings.TrimPrefix(f.Path, m+"/")
			note := ""
			switch {
			case f.Kind == OpenAPI && !isDefault(rel, "openapi"):
				if count[OpenAPI] == 1 {
					keys = append(keys, "openapi: "+rel)
				} else {
					note = "; generate reads the folder's openapi.yaml, or name one with openapi:"
				}
			case f.Kind == AsyncAPI && !isDefault(rel, "asyncapi"):
				if count[AsyncAPI] == 1 {
					keys = append(keys, "asyncapi: "+rel)
				} else {
					note = "; generate reads the folder's asyncapi.yaml, or name one with asyncapi:"
				}
			case f.Kind == Avro && !strings.HasPrefix(rel, "avro/"):
				note = "; read only through a payload $ref: standalone schemas belong in avro/"
			}
			fmt.Fprintf(&b, "    # %s (%s%s)\n", rel, f.Kind, note)
		}
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s\n", k)
		}
	}
	return []byte(b.String())
}

// isDefault reports whether rel is one of the default names of a module's
// document of that stem: stem.yaml, stem.yml or stem.json.
func isDefault(rel, stem string) bool {
	return rel == stem+".yaml" || rel == stem+".yml" || rel == stem+".json"
}
