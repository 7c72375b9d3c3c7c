package report

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/diag"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// The output formats.
const (
	Text          = "text"
	JSON          = "json"
	GitHubActions = "github-actions"
	JUnit         = "junit"
)

// Formats lists the output formats, for flag help.
var Formats = []string{Text, JSON, GitHubActions, JUnit}

// Write writes findings to w in format. suite names the run in JUnit
// output (e.g. "keiyaku breaking").
func Write(w io.Writer, format, suite string, findings []Finding) error {
	switch format {
	case Text, "":
		for _, f := range findings {
			if _, err := fmt.Fprintln(w, f); err != nil {
				return err
			}
		}
		return nil
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if findings == nil {
			findings = []Finding{}
		}
		return enc.Encode(struct {
			Findings []Finding `json:"findings"`
		}{findings})
	case GitHubActions:
		for _, f := range findings {
			if _, err := fmt.Fprintln(w, annotation(f)); err != nil {
				return err
			}
		}
		return nil
	case JUnit:
		return writeJUnit(w, suite, findings)
	}
	return fmt.Errorf("unknown output format %q; use %s", format, strings.Join(Formats, ", "))
}

// annotation formats a GitHub Actions workflow command:
// ::error file=F,line=L,col=C,title=RULE::message
func annotation(f Finding) string {
	level := "notice"
	switch f.Severity {
	case Error:
		level = "error"
	case Warning:
		level = "warning"
	}
	var props []string
	if f.File != "" {
		props = append(props, "file="+escapeProperty(f.File))
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line))
		}
		if f.Column > 0 {
			props = append(props, fmt.Sprintf("col=%d", f.Column))
		}
	}
	props = append(props, "title="+escapeProperty(f.Rule))
	return fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), escapeData(f.Message))
}

// escapeData and escapeProperty follow the toolkit's escaping of workflow
// commands (actions/toolkit, command.ts).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test case per finding, failed when it is an error,
// and one passing case when there are none, so CI shows the gate ran.
func writeJUnit(w io.Writer, suite string, findings []Finding) error {
	s := junitSuite{Name: suite}
	for _, f := range findings {
		c := junitCase{Name: f.Rule + " " + location(f), Classname: f.Format}
		if f.Severity == Error {
			s.Failures++
			c.Failure = &junitFailure{Message: f.Message, Type: f.Rule, Text: f.String()}
		}
		s.Cases = append(s.Cases, c)
	}
	if len(s.Cases) == 0 {
		s.Cases = append(s.Cases, junitCase{Name: "no findings", Classname: "keiyaku"})
	}
	s.Tests = len(s.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func location(f Finding) string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// Failure is the rule id of a finding that stands for an error which
// stopped a command: a contract that does not load, a bad keiyaku.yaml, a
// generated package that would not compile.
const Failure = "LOAD_ERROR"

// WriteFailure writes err, an error that stopped the command suite, to w
// as one error finding in format, so that CI parsers see it, and returns
// err unchanged (the command still exits 1). In the text format, and for
// nil, findings (exit 100) or an unknown format, it writes nothing: the
// caller prints the error. A *[diag.Error] keeps its file, line and column.
func WriteFailure(w io.Writer, format, suite string, err error) error {
	var fe *exitcode.FindingsError
	if err == nil || errors.As(err, &fe) || format == Text || format == "" || !slices.Contains(Formats, format) {
		return err
	}
	f := Finding{Rule: Failure, Severity: Error, Format: "keiyaku", Message: err.Error()}
	var de *diag.Error
	if errors.As(err, &de) {
		f.File, f.Line, f.Column, f.Message = de.File, de.Line, de.Column, de.Msg
		if de.Hint != "" {
			f.Message += "; " + de.Hint
		}
		f.Format = formatOf(de.File)
	}
	if werr := Write(w, format, suite, []Finding{f}); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// formatOf names the kind of input a file is, from its name.
func formatOf(file string) string {
	switch base := path.Base(filepath.ToSlash(file)); {
	case base == "keiyaku.yaml" || base == "keiyaku.lock":
		return FormatConfig
	case strings.HasSuffix(base, ".avsc"):
		return FormatAvro
	case strings.Contains(base, "asyncapi"):
		return FormatAsyncAPI
	}
	return FormatOpenAPI
}
