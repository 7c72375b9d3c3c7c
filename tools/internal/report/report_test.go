package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var sample = []Finding{
	{Rule: "response-property-removed", Severity: Error, Format: FormatOpenAPI, File: "contracts/a/v1/openapi.yaml", Line: 12, Column: 9,
		Message: "removed the property `x`, in 2 operations: GET /a, GET /b", Operations: []string{"GET /a", "GET /b"}, Side: "response"},
	{Rule: "READER_FIELD_MISSING_DEFAULT_VALUE", Severity: Warning, Format: FormatAvro, File: "contracts/a/v1/avro/E.avsc", Line: 3,
		Message: "field guests has no default, 50%, a:b", Path: "/fields/2", Versions: []string{"abc1234", "working tree"}},
	{Rule: "SYNC_CHAIN_TOO_LONG", Severity: Info, Format: FormatConfig, Message: "no position"},
}

// TestWrite pins each output format byte for byte: text lines, the JSON
// object with a findings array, GitHub Actions workflow commands with their
// escaping (%, newline, colon and comma in properties), JUnit XML.
func TestWrite(t *testing.T) {
	t.Parallel()
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := Write(&b, format, "keiyaku breaking", sample); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s output differs from %s:\n%s", format, golden, b.String())
			}
			switch format {
			case JSON:
				var v struct{ Findings []Finding }
				if err := json.Unmarshal(b.Bytes(), &v); err != nil || len(v.Findings) != len(sample) {
					t.Errorf("JSON does not parse back: %v", err)
				}
			case JUnit:
				var v junitSuites
				if err := xml.Unmarshal(b.Bytes(), &v); err != nil || v.Suites[0].Failures != 1 {
					t.Errorf("JUnit does not parse back with one failure: %v %+v", err, v)
				}
			}
		})
	}
	if err := Write(&bytes.Buffer{}, "yaml", "", sample); err == nil {
		t.Error("an unknown format is accepted")
	}
}

// TestEmptyJSON pins that no findings is an empty array, not null, so
// that CI scripts can count them.
func TestEmptyJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := Write(&b, JSON, "", nil); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "{\n  \"findings\": []\n}\n" {
		t.Errorf("got %q", got)
	}
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	if !Error.AtLeast(Warning) || Info.AtLeast(Warning) || !Warning.AtLeast(Warning) {
		t.Error("severity order is wrong")
	}
	if Count(sample, Warning) != 2 {
		t.Errorf("Count(≥warning) = %d, want 2", Count(sample, Warning))
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity accepts fatal")
	}
}
