package command

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// TestGenerateSaysWhatItSkips pins that generate names each AsyncAPI
// channel it writes no code for, and why, in every format: a document
// with an MQTT channel beside its Kafka ones generates the Kafka part
// (exit 0) and reports the rest as an info finding, not silently.
func TestGenerateSaysWhatItSkips(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.CopyFS(ws, os.DirFS("../generator/testdata/kinds")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(ws, "keiyaku.yaml")
	out, code := keiyaku(t, "--config", cfg, "generate", "--no-cache")
	if code != exitcode.OK || !strings.Contains(out, "skipped") || !strings.Contains(out, "channel lights") || !strings.Contains(out, "mqtt") {
		t.Fatalf("generate = %d, want 0 naming the skipped MQTT channel\n%s", code, out)
	}
	out, code = keiyaku(t, "--config", cfg, "generate", "--no-cache", "--format", "json")
	if code != exitcode.OK {
		t.Fatalf("generate --format json = %d\n%s", code, out)
	}
	var rep struct {
		Findings []struct {
			Rule, Severity, File, Message string
			Line                          int
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("generate --format json is not JSON: %v\n%s", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Rule == "ASYNCAPI_NOT_GENERATED" && f.Severity == "info" && strings.HasSuffix(f.File, "asyncapi.yaml") && f.Line > 0 && strings.Contains(f.Message, "lights") {
			found = true
		}
	}
	if !found {
		t.Errorf("no info finding for the skipped channel in\n%s", out)
	}
}

// TestGenerateSaysWhatItDoesNotType pins that generate names each part of
// a JSON Schema payload it generates untyped (a oneOf, as
// json.RawMessage), as lint does: an "untyped" line in text, an info
// finding "not typed: …" in the other formats.
func TestGenerateSaysWhatItDoesNotType(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.CopyFS(ws, os.DirFS("../generator/testdata/jsonpayload")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(ws, "keiyaku.yaml")
	out, code := keiyaku(t, "--config", cfg, "generate", "--no-cache")
	if code != exitcode.OK || !strings.Contains(out, "untyped") || !strings.Contains(out, "message AuditEntry: payload at /properties/detail: oneOf of 2 schemas") {
		t.Fatalf("generate = %d, want 0 naming the untyped oneOf\n%s", code, out)
	}
	out, code = keiyaku(t, "--config", cfg, "generate", "--no-cache", "--format", "json")
	if code != exitcode.OK || !strings.Contains(out, `"message": "not typed: message AuditEntry: payload at /properties/detail`) {
		t.Errorf("generate --format json = %d, want an info finding for the untyped oneOf\n%s", code, out)
	}
}
