package breaking

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/pacts"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// annotateConsumers appends to the message of each OpenAPI finding the
// consumers whose pacts (pacts/*.json of cur) the change reaches, from
// the finding's structured data (its operations and the place of the
// change), never from its text: a change to a response property breaks a
// consumer only when its pact reads that property ("breaks reservation:
// it reads `status`"); any other change breaks every consumer that calls
// one of the operations. Findings of a module without a service, and
// findings naming no operation, are left alone; so is a workspace without
// pacts. Avro findings name their consumers where they are made (Avro).
func annotateConsumers(cfg *config.Config, cur fs.FS, findings []report.Finding) ([]report.Finding, error) {
	files, err := pacts.Load(cur)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return findings, nil
	}
	for i, f := range findings {
		m, ok := moduleOf(cfg, f.File)
		if !ok || m.Service == "" {
			continue
		}
		if f.Format == report.FormatOpenAPI {
			findings[i].Message += openAPIConsumers(files, m.Service, f)
		}
	}
	return findings, nil
}

// moduleOf returns the module holding the workspace-relative file.
func moduleOf(cfg *config.Config, file string) (config.Module, bool) {
	for _, m := range cfg.Modules {
		if strings.HasPrefix(file, m.Path+"/") {
			return m, true
		}
	}
	return config.Module{}, false
}

func openAPIConsumers(files []*pacts.File, provider string, f report.Finding) string {
	if len(f.Operations) == 0 {
		return ""
	}
	prop := propertyOf(f.Path)
	byField := f.Side == "response" && prop != ""
	var parts, unaffected []string
	for _, op := range f.Operations {
		method, path, ok := strings.Cut(op, " ")
		if !ok {
			continue
		}
		for _, u := range pacts.OperationUses(files, provider, method, path) {
			switch {
			case !byField:
				parts = append(parts, u.Consumer+": it calls "+op)
			case u.Reads(prop):
				parts = append(parts, u.Consumer+": it reads `"+prop+"`")
			default:
				unaffected = append(unaffected, u.Consumer)
			}
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	var s string
	switch {
	case len(parts) > 0:
		s = "; breaks " + strings.Join(parts, "; breaks ")
	case byField:
		s = fmt.Sprintf("; no known consumer reads `%s`", prop)
	default:
		s = fmt.Sprintf("; no known consumer uses it (no pact in %s/ calls %s)", pacts.Dir, strings.Join(f.Operations, ", "))
	}
	if slices.Sort(unaffected); len(unaffected) > 0 {
		s += " (" + strings.Join(slices.Compact(unaffected), ", ") + " call it but do not read it)"
	}
	return s
}

// propertyOf turns the place of an OpenAPI change into the property path
// pacts name fields by: the names after each "properties" step, past the
// last component or path ("…/properties/data/items/properties/type" is
// "data/type"); "" when the place is no property.
func propertyOf(place string) string {
	parts := strings.Split(place, "/")
	var names []string
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "properties" && (i == 0 || parts[i-1] != "properties") {
			names = append(names, strings.NewReplacer("~1", "/", "~0", "~").Replace(parts[i+1]))
			i++
		}
	}
	return strings.Join(names, "/")
}
