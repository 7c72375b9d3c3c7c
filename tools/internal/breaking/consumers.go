package breaking

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/pacts"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

var (
	// quoted finds the `names` oasdiff quotes in its messages.
	quoted = regexp.MustCompile("`([^`]+)`")
	// avroField finds the field an Avro incompatibility is about.
	avroField = regexp.MustCompile(`\bfield ([A-Za-z_][A-Za-z0-9_.]*)`)
)

// annotateConsumers appends to the message of each OpenAPI and Avro
// finding the consumers whose pacts (pacts/*.json of cur) use what it is
// about: "breaks reservation: it reads `status`", or that no known
// consumer uses it. Findings of a module without a service, and findings
// naming no operation or record, are left alone. A workspace without
// pacts is left alone too.
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
		switch f.Format {
		case report.FormatOpenAPI:
			findings[i].Message += openAPIConsumers(files, m.Service, f)
		case report.FormatAvro:
			findings[i].Message += avroConsumers(files, m.Service, f)
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
	names := quotedNames(f.Message)
	var parts []string
	for _, op := range f.Operations {
		method, path, ok := strings.Cut(op, " ")
		if !ok {
			continue
		}
		for _, u := range pacts.OperationUses(files, provider, method, path) {
			parts = append(parts, u.Consumer+": "+why(u, names, "it calls "+op))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("; no known consumer uses it (no pact in %s/ calls %s)", pacts.Dir, strings.Join(f.Operations, ", "))
	}
	return "; breaks " + strings.Join(slices.Compact(parts), "; breaks ")
}

func avroConsumers(files []*pacts.File, provider string, f report.Finding) string {
	record, _, ok := strings.Cut(f.Message, ": ")
	if !ok || strings.ContainsAny(record, " /") {
		return ""
	}
	var names []string
	if m := avroField.FindStringSubmatch(f.Message); m != nil {
		names = []string{m[1]}
	}
	var parts []string
	for _, u := range pacts.MessageUses(files, provider, record) {
		parts = append(parts, u.Consumer+": "+why(u, names, "it consumes "+record))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("; no known consumer uses it (no pact in %s/ expects %s)", pacts.Dir, record)
	}
	return "; breaks " + strings.Join(parts, "; breaks ")
}

// why says what of the change a consumer uses: the fields it reads among
// names, else what it uses at all.
func why(u pacts.Use, names []string, otherwise string) string {
	var read []string
	for _, n := range names {
		if u.Reads(n) {
			read = append(read, "`"+n+"`")
		}
	}
	if len(read) == 0 {
		return otherwise
	}
	return "it reads " + strings.Join(read, ", ")
}

func quotedNames(msg string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	return out
}
