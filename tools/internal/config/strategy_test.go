package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// TestSubjectStrategy pins the subject name strategies of the breaking
// policy: a channel's entry wins over its module's, which wins over the
// default; an unset strategy is empty (the gate then picks by the number
// of record types on the channel); an unknown name is an error at its
// line.
func TestSubjectStrategy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "contracts/a/v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, config.FileName)
	parse := func(breaking string) (*config.Config, error) {
		return config.Parse(file, []byte("version: v1\nmodules:\n  - path: contracts/a/v1\nbreaking:\n  avro:\n"+breaking))
	}
	cfg, err := parse("    strategy: RecordNameStrategy\n    strategies:\n      contracts/a/v1: TopicNameStrategy\n      a.events: TopicRecordNameStrategy\n")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Breaking.Avro
	for _, tt := range []struct{ module, topic, want string }{
		{"contracts/a/v1", "a.events", config.TopicRecordNameStrategy},
		{"contracts/a/v1", "a.other", config.TopicNameStrategy},
		{"contracts/b/v1", "b.events", config.RecordNameStrategy},
	} {
		if got := p.SubjectStrategy(tt.module, tt.topic); got != tt.want {
			t.Errorf("SubjectStrategy(%s, %s) = %s, want %s", tt.module, tt.topic, got, tt.want)
		}
	}
	cfg, err = parse("    compatibility: BACKWARD\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Breaking.Avro.SubjectStrategy("contracts/a/v1", "a.events"); got != "" {
		t.Errorf("unset strategy = %q, want empty", got)
	}
	for _, bad := range []struct{ yaml, at string }{
		{"    strategy: TopicStrategy\n", ":6:15:"},
		{"    strategies:\n      a.events: nope\n", ":7:17:"},
	} {
		_, err := parse(bad.yaml)
		if err == nil || !strings.Contains(err.Error(), "use one of TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy") || !strings.Contains(err.Error(), bad.at) {
			t.Errorf("%q: %v, want an error at %s listing the strategies", bad.yaml, err, bad.at)
		}
	}
}
