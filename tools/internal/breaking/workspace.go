package breaking

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/avrocompat"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// Rule ids of the findings this package makes itself (oasdiff's and the
// Avro ones have their own).
const (
	RuleContractRemoved = "contract-removed"
)

// Workspace compares every contract of cfg (read from cur, the workspace)
// with the baseline and returns the findings, without those
// cfg.Breaking.Ignore accepts: OpenAPI documents with oasdiff, AsyncAPI
// documents by what receivers depend on, Avro schemas against their
// history. A contract that is new has nothing to break; one that is gone
// is an error finding. When cur holds pacts (pacts/*.json), each OpenAPI
// and Avro finding names the consumers whose pacts use what it is about.
func Workspace(ctx context.Context, cfg *config.Config, cur fs.FS, b *baseline.Baseline) ([]report.Finding, error) {
	findings, err := openAPIWorkspace(ctx, cfg, cur, b.FS())
	if err != nil {
		return nil, err
	}
	events, err := AsyncAPI(ctx, cfg, cur, b.FS())
	if err != nil {
		return nil, err
	}
	schemas, err := Avro(ctx, cfg, cur, b)
	if err != nil {
		return nil, err
	}
	// Several modules' documents reference one channel: a change to it
	// is one finding, not one per document.
	findings = dedupe(slices.Concat(findings, events, schemas))
	if findings, err = annotateConsumers(cfg, cur, findings); err != nil {
		return nil, err
	}
	report.Sort(findings)
	return Ignored(cfg.Breaking.Ignore, findings), nil
}

func openAPIWorkspace(ctx context.Context, cfg *config.Config, cur, base fs.FS) ([]report.Finding, error) {
	curLoader, baseLoader := openapi.NewLoaderFS(cur), openapi.NewLoaderFS(base)
	var findings []report.Finding
	for _, m := range cfg.Modules {
		curDocs, err := openapi.DocumentsFS(cur, m.Path, m.OpenAPIDocFS(cur))
		if err != nil {
			return nil, err
		}
		baseDocs, err := openapi.DocumentsFS(base, m.Path, m.OpenAPIDocFS(base))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		for _, file := range baseDocs {
			if !slices.Contains(curDocs, file) {
				findings = append(findings, report.Finding{
					Rule: RuleContractRemoved, Severity: report.Error, Format: report.FormatOpenAPI, File: file,
					Message: "the contract is gone: every client of it breaks; keep it (deprecate its operations) until no client calls it",
				})
				continue
			}
			b, err := baseLoader.Resolve(ctx, file)
			if err != nil {
				return nil, fmt.Errorf("baseline: %w", err)
			}
			c, err := curLoader.Resolve(ctx, file)
			if err != nil {
				return nil, err
			}
			fs, err := OpenAPI(file, b, file, c, func(isBase bool, name string) ([]byte, error) {
				if isBase {
					return fs.ReadFile(base, name)
				}
				return fs.ReadFile(cur, name)
			})
			if err != nil {
				return nil, err
			}
			findings = append(findings, fs...)
		}
	}
	return mergeOpenAPI(findings), nil
}

// mergeOpenAPI merges the findings several documents make of one change
// in a file they share (a component of a shared module): one finding,
// listing the operations of all of them.
func mergeOpenAPI(findings []report.Finding) []report.Finding {
	type key struct {
		rule, file, path string
		sev              report.Severity
		line, col        int
	}
	at := map[key]int{}
	var out []report.Finding
	for _, f := range findings {
		k := key{f.Rule, f.File, f.Path, f.Severity, f.Line, f.Column}
		i, seen := at[k]
		if !seen || f.Line == 0 {
			at[k] = len(out)
			out = append(out, f)
			continue
		}
		m := &out[i]
		if slices.Equal(m.Operations, f.Operations) {
			continue
		}
		before := affected(m.Operations)
		for _, op := range f.Operations {
			if !slices.Contains(m.Operations, op) {
				m.Operations = append(m.Operations, op)
			}
		}
		slices.Sort(m.Operations)
		for _, v := range f.Variants {
			if !slices.Contains(m.Variants, v) {
				m.Variants = append(m.Variants, v)
			}
		}
		if base, ok := strings.CutSuffix(m.Message, before); ok {
			m.Message = base + affected(m.Operations)
		}
	}
	return out
}

// Ignored drops the findings an ignore entry accepts: same rule, and a
// file equal to or below its path (any file when the path is empty).
func Ignored(ignores []config.Ignore, findings []report.Finding) []report.Finding {
	return slices.DeleteFunc(findings, func(f report.Finding) bool {
		return slices.ContainsFunc(ignores, func(ig config.Ignore) bool { return ig.Matches(f.Rule, f.File) })
	})
}

// Files compares two contract files of the same format, without a
// workspace: keiyaku breaking --against OLD NEW. The format is read from
// the files: an .avsc is Avro (checked in avroMode, FULL_TRANSITIVE when
// empty), a document with an "asyncapi" key is AsyncAPI, one with
// "openapi" is OpenAPI. Each file may $ref files below its own folder.
// The two files are loaded at once.
func Files(ctx context.Context, oldFile, newFile, avroMode string) ([]report.Finding, error) {
	of, nf, err := both(oldFile, newFile, formatOf)
	if err != nil {
		return nil, err
	}
	if of != nf {
		return nil, fmt.Errorf("%s is %s and %s is %s: compare two files of the same format", oldFile, of, newFile, nf)
	}
	switch of {
	case report.FormatAvro:
		mode, err := avrocompat.ParseMode(cmp.Or(avroMode, string(avrocompat.FullTransitive)))
		if err != nil {
			return nil, fmt.Errorf("--avro-compatibility: %w", err)
		}
		return avroFiles(ctx, mode, oldFile, newFile)
	case report.FormatAsyncAPI:
		b, c, err := both(oldFile, newFile, func(f string) (*asyncapi.Document, error) {
			return asyncapi.LoadFS(ctx, os.DirFS(filepath.Dir(f)), filepath.Base(f))
		})
		if err != nil {
			return nil, err
		}
		return compareDocs(b, c), nil
	}
	b, c, err := both(oldFile, newFile, func(f string) (*openapi3.T, error) {
		l, err := openapi.NewLoader(filepath.Dir(f))
		if err != nil {
			return nil, err
		}
		defer l.Close()
		return l.Resolve(ctx, filepath.Base(f))
	})
	if err != nil {
		return nil, err
	}
	return OpenAPI(filepath.Base(oldFile), b, filepath.Base(newFile), c, func(isBase bool, name string) ([]byte, error) {
		dir := filepath.Dir(newFile)
		if isBase {
			dir = filepath.Dir(oldFile)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		return root.ReadFile(name)
	})
}

// both runs load on the old and the new file at once — the two documents
// are independent, and loading a large one is seconds of CPU — and
// returns both results, or the old file's error before the new one's.
func both[T any](oldFile, newFile string, load func(string) (T, error)) (T, T, error) {
	var (
		o    T
		oErr error
		wg   sync.WaitGroup
	)
	wg.Go(func() { o, oErr = load(oldFile) })
	n, nErr := load(newFile)
	wg.Wait()
	if oErr != nil {
		return o, n, oErr
	}
	return o, n, nErr
}

// formatOf tells the contract format of a file from its name and top
// level.
func formatOf(file string) (string, error) {
	if strings.HasSuffix(file, ".avsc") {
		return report.FormatAvro, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	// Which top-level keys have a value. A JSON document (large ones
	// usually are) is read without building a tree of it.
	top := map[string]bool{}
	var js map[string]json.RawMessage
	if json.Unmarshal(data, &js) == nil {
		for k, v := range js {
			top[k] = string(v) != "null"
		}
	} else {
		var y map[string]any
		if err := yaml.Unmarshal(data, &y); err != nil {
			return "", &diag.Error{File: file, Msg: "neither an .avsc nor a YAML/JSON document: " + err.Error()}
		}
		for k, v := range y {
			top[k] = v != nil
		}
	}
	switch {
	case top["asyncapi"]:
		return report.FormatAsyncAPI, nil
	case top["openapi"]:
		return report.FormatOpenAPI, nil
	}
	return "", &diag.Error{File: file, Line: 1, Column: 1, Msg: "not a contract: no openapi or asyncapi key, and not an .avsc file"}
}

// avroFiles checks a new schema file against an old one, both
// self-contained, in mode (Files' default FULL_TRANSITIVE: with one old
// version, both directions), each finding at the line and column of the
// new file it is about.
func avroFiles(ctx context.Context, mode avrocompat.Mode, oldFile, newFile string) ([]report.Finding, error) {
	o, err := os.ReadFile(oldFile)
	if err != nil {
		return nil, err
	}
	n, err := os.ReadFile(newFile)
	if err != nil {
		return nil, err
	}
	// Load the new file alone, for the positions of its fields.
	set, err := avroschema.LoadWith(ctx, nil, "", avroschema.Source{File: newFile, Data: n})
	if err != nil {
		return nil, err
	}
	r := set.FileRecord(newFile)
	if r == nil {
		return nil, &diag.Error{File: newFile, Line: 1, Column: 1, Msg: "the top of the file is not a record"}
	}
	incs, err := avrocompat.Check(mode, []avrocompat.Version{{Label: oldFile, Schema: string(o), File: oldFile}}, avrocompat.Version{Label: newFile, Schema: r.Schema, File: newFile})
	if err != nil {
		return nil, err
	}
	schemas := map[string]string{oldFile: string(o), newFile: r.Schema}
	var findings []report.Finding
	for _, inc := range incs {
		findings = append(findings, incompatibilityFinding("", mode, r, inc, schemas))
	}
	return findings, nil
}
