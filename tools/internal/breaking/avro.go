package breaking

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/avrocompat"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/pacts"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// avroDir is the folder of a module that holds its Avro schemas.
const avroDir = "avro"

// The rule ids of the Avro findings this package makes itself; the
// incompatibilities carry Schema Registry's types (avrocompat).
const (
	// RuleAvroHistoryTruncated notes that a history was cut at the commit
	// limit: older versions were not checked.
	RuleAvroHistoryTruncated = "avro-history-truncated"
	// RuleAvroHistoryUnloadable notes a past version whose contracts no
	// longer load: its schemas are not part of the history.
	RuleAvroHistoryUnloadable = "avro-history-unloadable"
	// RuleAvroSubjectRemoved is a subject the baseline has and the
	// workspace no longer does.
	RuleAvroSubjectRemoved = "avro-subject-removed"
	// RuleAvroSubjectClash is two records registered under one subject.
	RuleAvroSubjectClash = "avro-subject-clash"
	// RuleAvroOverrideUnused is an override that names no subject or
	// record, most likely a typo or a subject renamed by a strategy.
	RuleAvroOverrideUnused = "avro-override-unused"
)

// maxAvroCommits bounds the commits whose contracts are loaded for the
// history.
const maxAvroCommits = 200

// subjectVersion is one version of a subject in the history.
type subjectVersion struct {
	label string
	s     *subject
}

// history is the versions of every subject of the baseline, oldest
// first, and what the baseline itself holds.
type history struct {
	versions map[string][]subjectVersion
	base     snapshot
	findings []report.Finding // truncation and versions that did not load
}

// Avro checks every Schema Registry subject of the workspace cur against
// its history in base, in the mode keiyaku.yaml configures for it
// (FULL_TRANSITIVE by default). A subject is a message's value or key on
// its topic, named by the subject name strategy (see subjectsAt), or a
// standalone .avsc by its record's full name; nested named types are
// judged inside their subject, in its mode.
//
// The versions of a subject are its content at each commit that changed
// it, oldest first in topological order, the baseline commit's content
// last: a revert to an earlier content is a new version, as it is for the
// registry. A directory baseline is one version. A subject of the
// baseline that is gone is a finding, an error when a receive operation or
// a pact reads it; a past commit whose contracts do not load is a warning
// naming the commit.
func Avro(ctx context.Context, cfg *config.Config, cur fs.FS, base *baseline.Baseline) ([]report.Finding, error) {
	now := subjectsAt(ctx, cfg, cur)
	if err := now.firstFailure(); err != nil {
		return nil, err
	}
	h, err := subjectHistory(ctx, cfg, base)
	if err != nil {
		return nil, err
	}
	findings := h.findings
	pactFiles, err := pacts.Load(cur)
	if err != nil {
		return nil, err
	}
	readers := pactReaders(pactFiles)
	continued := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(now.subjects)) {
		s := now.subjects[name]
		if s.clash != "" {
			findings = append(findings, clashFinding(s))
			continue
		}
		versions := h.versions[name]
		if len(versions) == 0 && s.topic == "" {
			// A standalone schema whose record was renamed in its file
			// continues the subject of the old name: the registry
			// judges the new name against the old one (aliases).
			if old := renamedFrom(s, h.base, now); old != "" {
				versions = h.versions[old]
				continued[old] = true
			}
		}
		fs, err := checkSubject(cfg, s, versions, pactFiles)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	findings = append(findings, unusedOverrides(cfg, now)...)
	for _, name := range slices.Sorted(maps.Keys(h.base.subjects)) {
		old := h.base.subjects[name]
		if _, ok := now.subjects[name]; ok || continued[name] || !removalIsOurs(old, now) {
			continue
		}
		findings = append(findings, removedFinding(old, readers[old.record.Name]))
	}
	return findings, nil
}

// subjectHistory loads the subjects of the workspace at every baseline
// commit that changed a module, oldest first, and keeps a version each
// time a subject's schema differs from its previous version.
func subjectHistory(ctx context.Context, cfg *config.Config, base *baseline.Baseline) (history, error) {
	h := history{versions: map[string][]subjectVersion{}}
	if base.Commit() == "" {
		snap := subjectsAt(ctx, cfg, base.FS())
		if err := snap.firstFailure(); err != nil {
			return h, fmt.Errorf("baseline %s: %w", base.Label(), err)
		}
		h.base = snap
		for name, s := range snap.subjects {
			h.versions[name] = []subjectVersion{{label: base.Label(), s: s}}
		}
		return h, nil
	}
	dirs := make([]string, 0, len(cfg.Modules))
	for _, m := range cfg.Modules {
		dirs = append(dirs, m.Path)
	}
	commits, err := base.Commits(ctx, dirs, baseline.WithMaxCommits(maxAvroCommits))
	if errors.Is(err, baseline.ErrTruncated) {
		h.findings = append(h.findings, report.Finding{
			Rule: RuleAvroHistoryTruncated, Severity: report.Warning, Format: report.FormatAvro,
			Message: fmt.Sprintf("the history of the contracts at %s is longer than %d commits; versions older than that were not checked", base.Label(), maxAvroCommits),
		})
	} else if err != nil {
		return h, err
	}
	for _, c := range commits {
		at, err := base.At(c)
		if err != nil {
			return h, err
		}
		snap := subjectsAt(ctx, cfg, at.FS())
		label := at.Label()
		for _, m := range slices.Sorted(maps.Keys(snap.failed)) {
			h.findings = append(h.findings, report.Finding{
				Rule: RuleAvroHistoryUnloadable, Severity: report.Warning, Format: report.FormatAvro, File: m,
				Message: fmt.Sprintf("the contracts of %s do not load at commit %s, so their schemas there are not part of the history: %v", m, label, snap.failed[m]),
			})
		}
		for name, s := range snap.subjects {
			vs := h.versions[name]
			if len(vs) > 0 && vs[len(vs)-1].s.record.Schema == s.record.Schema {
				continue
			}
			h.versions[name] = append(vs, subjectVersion{label: label, s: s})
		}
		if c == base.Commit() {
			h.base = snap
		}
	}
	return h, nil
}

// unusedOverrides warns of breaking.avro.overrides entries that name
// neither a subject nor the record of one: their mode applies to nothing.
func unusedOverrides(cfg *config.Config, now snapshot) []report.Finding {
	var out []report.Finding
	for _, key := range slices.Sorted(maps.Keys(cfg.Breaking.Avro.Overrides)) {
		if _, ok := now.subjects[key]; ok {
			continue
		}
		if slices.ContainsFunc(slices.Collect(maps.Values(now.subjects)), func(s *subject) bool { return s.record.Name == key }) {
			continue
		}
		names := slices.Sorted(maps.Keys(now.subjects))
		out = append(out, report.Finding{
			Rule: RuleAvroOverrideUnused, Severity: report.Warning, Format: report.FormatAvro, File: config.FileName,
			Message: fmt.Sprintf("breaking.avro.overrides[%s] names no subject and no record of one, so it applies to nothing; the subjects are: %s", key, strings.Join(names, ", ")),
		})
	}
	return out
}

// renamedFrom returns the standalone subject of the baseline that the
// file of s held and that is gone now: s is its record renamed.
func renamedFrom(s *subject, base, now snapshot) string {
	for name, old := range base.subjects {
		if old.topic == "" && old.record.File == s.record.File {
			if _, still := now.subjects[name]; !still {
				return name
			}
		}
	}
	return ""
}

// removalIsOurs reports whether a subject of the baseline missing now is
// this check's to report. A message subject whose message is gone is
// reported by the AsyncAPI rules (message, channel, operation or contract
// removed); one whose message is still there moved to another subject (a
// record strategy and a new payload record).
func removalIsOurs(old *subject, now snapshot) bool {
	if old.topic == "" {
		return true
	}
	for _, s := range now.subjects {
		if s.topic == old.topic && s.message == old.message {
			return true
		}
	}
	return false
}

// checkSubject checks the workspace's version of a subject against its
// versions in the history.
func checkSubject(cfg *config.Config, s *subject, versions []subjectVersion, pactFiles []*pacts.File) ([]report.Finding, error) {
	if len(versions) == 0 || versions[len(versions)-1].s.record.Schema == s.record.Schema {
		// New, or unchanged since the baseline (checked when it changed).
		return nil, nil
	}
	modeName := cmp.Or(cfg.Breaking.Avro.Overrides[s.name], cfg.Breaking.Avro.Overrides[s.record.Name], cfg.Breaking.Avro.Compatibility)
	mode, err := avrocompat.ParseMode(modeName)
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", s.name, err)
	}
	history := make([]avrocompat.Version, len(versions))
	for i, v := range versions {
		history[i] = avrocompat.Version{Label: v.label, Schema: v.s.record.Schema, File: v.s.record.File}
	}
	r := s.record
	incs, err := avrocompat.Check(mode, history, avrocompat.Version{Label: "working tree", Schema: r.Schema, File: r.File})
	if err != nil {
		return nil, err
	}
	schemas := map[string]string{"working tree": r.Schema}
	for _, v := range history {
		schemas[v.Label] = v.Schema
	}
	findings := make([]report.Finding, 0, len(incs))
	for _, inc := range incs {
		f := incompatibilityFinding(s.name, mode, r, inc, schemas)
		f.Message += avroConsumers(cfg, pactFiles, r, avrocompat.FieldPath(schemas[inc.Reader], inc.Path))
		findings = append(findings, f)
	}
	return findings, nil
}

// withCounterexample appends to msg a datum the writer writes and the
// reader fails to decode, built and checked with twmb/avro.
func withCounterexample(msg string, inc avrocompat.Incompatibility, schemas map[string]string) string {
	datum, decodeErr, err := avrocompat.Counterexample(schemas[inc.Writer], schemas[inc.Reader], inc.Path)
	if err != nil || decodeErr == nil {
		return msg
	}
	why, _, _ := strings.Cut(decodeErr.Error(), "\n")
	return fmt.Sprintf("%s; counterexample: %s written with %s fails to decode with %s (%s)", msg, datum, inc.Writer, inc.Reader, why)
}

// incompatibilityFinding turns an incompatibility of a subject into a
// finding at the field it is about, with a counterexample; schemas maps
// version labels to their schemas.
func incompatibilityFinding(subjectName string, mode avrocompat.Mode, r *avroschema.Record, inc avrocompat.Incompatibility, schemas map[string]string) report.Finding {
	line, col := lineOf(r, inc.Path)
	side := "reader"
	if inc.Direction == avrocompat.OldReadsNew {
		side = "writer"
	}
	msg := fmt.Sprintf("%s: %s (%s, %s reads %s)", r.Name, inc.Message, mode, inc.Reader, inc.Writer)
	if subjectName != "" && subjectName != r.Name {
		msg = fmt.Sprintf("%s: %s (subject %s, %s, %s reads %s)", r.Name, inc.Message, subjectName, mode, inc.Reader, inc.Writer)
	}
	return report.Finding{
		Rule: inc.Type, Severity: report.Error, Format: report.FormatAvro,
		File: r.File, Line: line, Column: col,
		Message:  withCounterexample(msg, inc, schemas),
		Side:     side,
		Path:     inc.Path,
		Versions: []string{inc.Reader, inc.Writer},
	}
}

// clashFinding reports two records under one subject.
func clashFinding(s *subject) report.Finding {
	return report.Finding{
		Rule: RuleAvroSubjectClash, Severity: report.Error, Format: report.FormatAvro,
		File: s.record.File, Line: s.record.Line, Column: s.record.Column,
		Message: fmt.Sprintf("%s: subject %s (%s) would hold both %s and %s, and Schema Registry refuses the second; set breaking.avro.strategies[%s] to TopicRecordNameStrategy",
			s.record.Name, s.name, s.strategy, s.record.Name, s.clash, s.topic),
	}
}

// removedFinding reports a subject of the baseline that is gone.
func removedFinding(old *subject, pactReaders []string) report.Finding {
	f := report.Finding{Rule: RuleAvroSubjectRemoved, Severity: report.Warning, Format: report.FormatAvro, File: old.record.File}
	var who string
	switch {
	case old.read || len(pactReaders) > 0:
		f.Severity = report.Error
		who = "its readers break"
		if len(pactReaders) > 0 {
			who += " (pacts of " + strings.Join(pactReaders, ", ") + ")"
		}
	default:
		who = "no receive operation or pact reads it, but producers and consumers outside this workspace may"
	}
	what := "the schema file was deleted or its record renamed"
	if old.topic != "" {
		what = "the message now carries another record"
	}
	f.Message = fmt.Sprintf("%s: subject %s is gone (%s): %s; keep it, or give the new record \"aliases\": [%q]",
		old.record.Name, old.name, what, who, old.record.Name)
	return f
}

// pactReaders maps an Avro record full name (a message's ce_type) to the
// consumers whose pacts expect it.
func pactReaders(files []*pacts.File) map[string][]string {
	out := map[string][]string{}
	for _, f := range files {
		for _, m := range f.Messages {
			if t := m.Type(); t != "" && !slices.Contains(out[t], f.Consumer) {
				out[t] = append(out[t], f.Consumer)
			}
		}
	}
	return out
}

// avroConsumers names the consumers an incompatibility of a subject
// breaks: every consumer whose pacts expect the record's messages, since
// an Avro decoder refuses the whole record, not one field; the field it
// is about is named for those that read it. Without pacts it says
// nothing.
func avroConsumers(cfg *config.Config, files []*pacts.File, r *avroschema.Record, field string) string {
	if len(files) == 0 {
		return ""
	}
	m, ok := moduleOf(cfg, r.File)
	if !ok || m.Service == "" {
		return ""
	}
	var parts []string
	for _, u := range pacts.MessageUses(files, m.Service, r.Name) {
		why := "it consumes " + r.Name + ", which no longer decodes"
		if field != "" && u.Reads(field) {
			why = "it reads `" + field + "`"
		}
		parts = append(parts, u.Consumer+": "+why)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("; no known consumer uses it (no pact in %s/ expects %s)", pacts.Dir, r.Name)
	}
	return "; breaks " + strings.Join(parts, "; breaks ")
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
