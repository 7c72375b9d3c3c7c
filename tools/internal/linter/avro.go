package linter

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/generator"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

func avroFinding(rule string, sev report.Severity, r *avroschema.Record, line, col int, msg string) Finding {
	return Finding{Rule: rule, Severity: sev, Format: report.FormatAvro, File: r.File, Line: line, Column: col, Message: msg}
}

func checkAvroDocs(set *avroschema.Set, _ config.Module) []Finding {
	var findings []Finding
	for _, r := range set.Records {
		if strings.TrimSpace(r.Doc) == "" {
			findings = append(findings, avroFinding("AVRO_DOC_REQUIRED", Error, r, r.Line, r.Column,
				fmt.Sprintf("record %s has no doc; say what happened and who publishes it", r.Name)))
		}
		for _, f := range r.Fields {
			if strings.TrimSpace(f.Doc) == "" {
				findings = append(findings, avroFinding("AVRO_DOC_REQUIRED", Error, r, f.Line, f.Column,
					fmt.Sprintf("field %s.%s has no doc; say what it holds, its unit and its format", r.Name, f.Name)))
			}
		}
	}
	return findings
}

// enumDefault reports whether the named enum declares a default. The
// loader keeps the enum's symbols; its default is read from the schema.
func checkAvroEnumDefault(set *avroschema.Set, _ config.Module) []Finding {
	var findings []Finding
	seen := map[string]bool{}
	for _, r := range set.Records {
		for _, f := range r.Fields {
			for _, e := range enumsOf(f.Type) {
				if seen[e.Name] || enumHasDefault(r.Schema, e.Name) {
					continue
				}
				seen[e.Name] = true
				findings = append(findings, avroFinding("AVRO_ENUM_DEFAULT", Warning, r, f.Line, f.Column,
					fmt.Sprintf("enum %s (field %s.%s) has no default; a consumer built before a new symbol is added cannot read events that carry it: add \"default\": %q", e.Name, r.Name, f.Name, e.Symbols[0])))
			}
		}
	}
	return findings
}

func enumsOf(t *avroschema.Type) []*avroschema.Type {
	if t == nil {
		return nil
	}
	switch t.Kind {
	case avroschema.KindEnum:
		return []*avroschema.Type{t}
	case avroschema.KindArray:
		return enumsOf(t.Items)
	case avroschema.KindMap:
		return enumsOf(t.Values)
	case avroschema.KindUnion:
		var out []*avroschema.Type
		for _, b := range t.Branches {
			out = append(out, enumsOf(b)...)
		}
		return out
	}
	return nil
}

func checkAvroNamespace(set *avroschema.Set, m config.Module) []Finding {
	parts := strings.Split(m.Name(), "/")
	want := strings.Join(parts[max(0, len(parts)-2):], ".")
	var findings []Finding
	for _, r := range set.Records {
		if r.Namespace != want && !strings.HasSuffix(r.Namespace, "."+want) {
			findings = append(findings, avroFinding("AVRO_NAMESPACE_MATCHES_PATH", Error, r, r.Line, r.Column,
				fmt.Sprintf("record %s: namespace %q does not end with %q (the folder %s); e.g. \"<org>.%s\"", r.Name, r.Namespace, want, m.Path, want)))
		}
	}
	return findings
}

// enumHasDefault looks for the definition of the enum full name in the
// self-contained schema JSON of a record and reports whether it has a
// default.
func enumHasDefault(schema, full string) bool {
	var root any
	if json.Unmarshal([]byte(schema), &root) != nil {
		return false
	}
	short := full[strings.LastIndex(full, ".")+1:]
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "enum" && (v["name"] == short || v["name"] == full) {
				_, ok := v["default"]
				return ok
			}
			for _, c := range v {
				if walk(c) {
					return true
				}
			}
		case []any:
			for _, c := range v {
				if walk(c) {
					return true
				}
			}
		}
		return false
	}
	return walk(root)
}

// checkAsyncAPINotGenerated reports, as information, each channel and
// message of doc that generate writes no code for, with the reason.
func checkAsyncAPINotGenerated(doc *asyncapi.Document, m config.Module) []Finding {
	return skippedFindings(doc, m, false)
}

// checkAsyncAPIPayloadUntyped warns of each part of a JSON Schema payload
// of doc that generate does not type (json.RawMessage, or left out), with
// the reason.
func checkAsyncAPIPayloadUntyped(doc *asyncapi.Document, m config.Module) []Finding {
	return skippedFindings(doc, m, true)
}

// skippedFindings are the findings of what generating doc leaves out
// (untyped false) or does not type (untyped true), as generate reports
// them.
func skippedFindings(doc *asyncapi.Document, m config.Module, untyped bool) []Finding {
	if !m.Generated() {
		return nil
	}
	var findings []Finding
	for _, s := range generator.EventsSkipped(doc) {
		if s.Untyped == untyped {
			findings = append(findings, s.Finding()) // as generate reports it
		}
	}
	return findings
}
