package breaking

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/avrocompat"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// avroDir is the folder of a module that holds its Avro schemas.
const avroDir = "avro"

// RuleAvroHistoryTruncated notes that a schema's history was cut at the
// commit limit: older versions were not checked.
const RuleAvroHistoryTruncated = "avro-history-truncated"

// avroVersion is the Avro schema set of one module in one version of the
// baseline.
type avroVersion struct {
	label string
	set   *avroschema.Set
}

// Avro checks every record of every module's avro folder in cur against
// its history in base, in the mode keiyaku.yaml configures for it (Schema
// Registry semantics; FULL_TRANSITIVE by default). The history of a schema
// is every distinct version of it in the commits reachable from the
// baseline commit, oldest first; a directory baseline is one version.
func Avro(ctx context.Context, cfg *config.Config, cur fs.FS, base *baseline.Baseline) ([]report.Finding, error) {
	var findings []report.Finding
	for _, m := range cfg.Modules {
		dir := path.Join(m.Path, avroDir)
		if _, err := fs.Stat(cur, dir); err != nil {
			continue
		}
		set, err := avroschema.LoadFS(ctx, cur, dir)
		if err != nil {
			return nil, err
		}
		history, truncated, err := avroHistory(ctx, base, dir)
		if err != nil {
			return nil, err
		}
		if truncated {
			findings = append(findings, report.Finding{
				Rule: RuleAvroHistoryTruncated, Severity: report.Warning, Format: report.FormatAvro, File: dir,
				Message: "the baseline history of these schemas is longer than the commit limit; the oldest versions were not checked",
			})
		}
		for _, r := range set.Records {
			fs, err := checkRecord(cfg, r, history)
			if err != nil {
				return nil, err
			}
			findings = append(findings, fs...)
		}
	}
	return findings, nil
}

// checkRecord checks one record against its versions in history.
func checkRecord(cfg *config.Config, r *avroschema.Record, history []avroVersion) ([]report.Finding, error) {
	modeName := cmp.Or(cfg.Breaking.Avro.Overrides[r.Name], cfg.Breaking.Avro.Compatibility)
	mode, err := avrocompat.ParseMode(modeName)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", r.Name, err)
	}
	var versions []avrocompat.Version
	seen := map[string]bool{}
	for _, v := range history {
		old := v.set.Record(r.Name)
		if old == nil || seen[old.Schema] {
			continue
		}
		seen[old.Schema] = true
		versions = append(versions, avrocompat.Version{Label: v.label, Schema: old.Schema, File: old.File})
	}
	if len(versions) == 0 {
		return nil, nil // a new schema has nothing to break
	}
	if versions[len(versions)-1].Schema == r.Schema {
		// Unchanged since the baseline: it was checked when it changed.
		return nil, nil
	}
	incs, err := avrocompat.Check(mode, versions, avrocompat.Version{Label: "working tree", Schema: r.Schema, File: r.File})
	if err != nil {
		return nil, err
	}
	findings := make([]report.Finding, 0, len(incs))
	for _, inc := range incs {
		line, col := lineOf(r, inc.Path)
		side := "reader"
		if inc.Direction == avrocompat.OldReadsNew {
			side = "writer"
		}
		findings = append(findings, report.Finding{
			Rule: inc.Type, Severity: report.Error, Format: report.FormatAvro,
			File: r.File, Line: line, Column: col,
			Message:  fmt.Sprintf("%s: %s (%s, %s reads %s)", r.Name, inc.Message, mode, inc.Reader, inc.Writer),
			Side:     side,
			Path:     inc.Path,
			Versions: []string{inc.Reader, inc.Writer},
		})
	}
	return findings, nil
}

// lineOf places an incompatibility at the field its path starts with
// ("/fields/3/…"), else at the record.
func lineOf(r *avroschema.Record, p string) (int, int) {
	rest, ok := strings.CutPrefix(p, "/fields/")
	if !ok {
		return r.Line, r.Column
	}
	idx, _, _ := strings.Cut(rest, "/")
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(r.Fields) {
		return r.Line, r.Column
	}
	return r.Fields[i].Line, r.Fields[i].Column
}

// maxAvroCommits bounds the commits whose schema sets are loaded for one
// folder.
const maxAvroCommits = 200

// avroHistory loads the schema set of dir in every baseline commit that
// changed a file of it, oldest first in topological order (the baseline
// commit last). A version whose schemas do not load (they were broken
// then) is left out.
func avroHistory(ctx context.Context, base *baseline.Baseline, dir string) ([]avroVersion, bool, error) {
	if base.Commit() == "" {
		set, err := avroschema.LoadFS(ctx, base.FS(), dir)
		if err != nil {
			if _, statErr := fs.Stat(base.FS(), dir); errors.Is(statErr, fs.ErrNotExist) {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("baseline %s: %w", base.Label(), err)
		}
		return []avroVersion{{label: base.Label(), set: set}}, false, nil
	}
	commits, err := base.Commits(ctx, dir, baseline.WithMaxCommits(maxAvroCommits))
	truncated := errors.Is(err, baseline.ErrTruncated)
	if err != nil && !truncated {
		return nil, false, err
	}
	in := base.Input()
	var history []avroVersion
	for _, c := range commits {
		at, err := baseline.Open(ctx, baseline.Input{Path: in.Path, Git: true, Ref: c, Subdir: in.Subdir})
		if err != nil {
			return nil, false, err
		}
		set, err := avroschema.LoadFS(ctx, at.FS(), dir)
		label := at.Label()
		closeErr := at.Close()
		if closeErr != nil {
			return nil, false, closeErr
		}
		if err != nil {
			continue // the folder did not load at that commit
		}
		history = append(history, avroVersion{label: label, set: set})
	}
	return history, truncated, nil
}
