package breaking

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

// TestTwoFiles pins the two-file form of the command: --avro-compatibility
// chooses the mode (a field added without a default breaks BACKWARD, at
// NEW:line:col, and passes FORWARD), and the usage errors say how to fix
// them.
func TestTwoFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldFile, newFile := filepath.Join(dir, "old.avsc"), filepath.Join(dir, "new.avsc")
	for file, content := range map[string]string{
		oldFile: `{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}`,
		newFile: "{\"type\": \"record\", \"name\": \"A\", \"fields\": [\n  {\"name\": \"x\", \"type\": \"int\"},\n  {\"name\": \"y\", \"type\": \"int\"}]}",
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noConfig := filepath.Join(dir, "keiyaku.yaml")
	run := func(args ...string) (string, error) {
		cmd := NewCommand("breaking", &noConfig)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		cmd.SetContext(t.Context())
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("--against", oldFile, newFile, "--avro-compatibility", "BACKWARD")
	if fe, ok := errors.AsType[*exitcode.FindingsError](err); !ok || fe.N != 1 {
		t.Fatalf("BACKWARD: %v, want one finding\n%s", err, out)
	}
	if !strings.Contains(out, newFile+":3:3: error READER_FIELD_MISSING_DEFAULT_VALUE") {
		t.Errorf("BACKWARD output lacks the finding at %s:3:3:\n%s", newFile, out)
	}
	if out, err := run("--against", oldFile, newFile, "--avro-compatibility", "forward"); err != nil {
		t.Errorf("FORWARD: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--against", oldFile, newFile, "--avro-compatibility", "SIDEWAYS"}, "--avro-compatibility"},
		{[]string{newFile}, "comparing files needs the old one"},
		{[]string{"--avro-compatibility", "FULL"}, "is for two files"},
		{[]string{"--format", "xml"}, `--format "xml"`},
	} {
		if _, err := run(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}
