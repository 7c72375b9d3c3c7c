package breaking

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t testing.TB, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gitWorkspace is a workspace in a real git repository: keiyaku.yaml and
// contracts, committed on main.
type gitWorkspace struct {
	t   testing.TB
	dir string
}

func newGitWorkspace(t testing.TB, breaking string) *gitWorkspace {
	t.Helper()
	w := &gitWorkspace{t: t, dir: t.TempDir()}
	git(t, w.dir, "init", "-q", "-b", "main")
	w.write("go.mod", "module example.com/stays\n")
	w.write(config.FileName, "version: v1\nmodules:\n  - path: contracts/stays/v1\n    service: stays\n  - path: contracts/guests/v1\n    service: guests\n"+breaking)
	w.write("contracts/guests/v1/README.md", "Guests.\n")
	return w
}

func (w *gitWorkspace) write(rel, content string) { write(w.t, filepath.Join(w.dir, rel), content) }

func (w *gitWorkspace) remove(rel string) {
	if err := os.Remove(filepath.Join(w.dir, rel)); err != nil {
		w.t.Fatal(err)
	}
}

// commit commits everything and returns the commit id.
func (w *gitWorkspace) commit(msg string) string {
	git(w.t, w.dir, "add", "-A")
	git(w.t, w.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return git(w.t, w.dir, "rev-parse", "HEAD")
}

// check runs the gate on the work tree against the baseline input (a
// .git#… reference, or a directory).
func (w *gitWorkspace) check(against string) []report.Finding {
	w.t.Helper()
	cfg, err := config.Load(filepath.Join(w.dir, config.FileName))
	if err != nil {
		w.t.Fatal(err)
	}
	in, err := baseline.Parse(against)
	if err != nil {
		w.t.Fatal(err)
	}
	base, err := baseline.Open(w.t.Context(), in, baseline.WithDir(w.dir))
	if err != nil {
		w.t.Fatal(err)
	}
	defer base.Close()
	findings, err := Workspace(w.t.Context(), cfg, os.DirFS(w.dir), base)
	if err != nil {
		w.t.Fatal(err)
	}
	return findings
}

// rules lists the rule and severity of each finding, sorted.
func rules(findings []report.Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, f.Rule+"/"+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

func expectRules(t *testing.T, findings []report.Finding, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := rules(findings); !slices.Equal(got, want) {
		var b strings.Builder
		for _, f := range findings {
			b.WriteString("\n  " + f.String())
		}
		t.Errorf("findings %v, want %v:%s", got, want, b.String())
	}
}

// record is a standalone Avro record schema with the given fields (JSON
// field objects) and extra top-level members.
func record(ns, name, extra string, fields ...string) string {
	return fmt.Sprintf("{\"type\": \"record\", \"name\": %q, \"namespace\": %q, \"doc\": \"A record.\"%s,\n \"fields\": [\n  %s\n ]}\n",
		name, ns, extra, strings.Join(fields, ",\n  "))
}

const (
	fieldID         = `{"name": "id", "doc": "Id.", "type": "string"}`
	fieldNights     = `{"name": "nights", "doc": "Nights.", "type": "int"}`
	fieldNightsDflt = `{"name": "nights", "doc": "Nights.", "type": "int", "default": 1}`
	stayFile        = "contracts/stays/v1/avro/Stay.avsc"
)

// TestAvroHistoryTransitive pins the history semantics: v1 and v2
// committed, v3 in the working tree. BACKWARD checks v3 against v2 only
// and passes; BACKWARD_TRANSITIVE checks it against every version and
// finds that v3 cannot read v1's records.
func TestAvroHistoryTransitive(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode   string
		errors int
	}{{"BACKWARD", 0}, {"BACKWARD_TRANSITIVE", 1}, {"FULL", 0}, {"FULL_TRANSITIVE", 1}, {"NONE", 0}} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			w := newGitWorkspace(t, "breaking:\n  avro:\n    compatibility: "+tt.mode+"\n")
			w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
			w.commit("v1")
			w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID, fieldNightsDflt))
			w.commit("v2")
			w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID, fieldNights))
			findings := w.check(".git#branch=main")
			if got := report.Count(findings, report.Error); got != tt.errors {
				t.Fatalf("%d errors, want %d: %v", got, tt.errors, findings)
			}
			for _, f := range findings {
				if f.Rule != "READER_FIELD_MISSING_DEFAULT_VALUE" || f.Line != 4 || !strings.Contains(f.Message, "nights") {
					t.Errorf("finding = %+v, want READER_FIELD_MISSING_DEFAULT_VALUE at the nights field (line 4)", f)
				}
			}
		})
	}
}

// TestAvroRevertIsAVersion pins that a revert is a new version: after
// v1 → v2 → v1 on main the latest version is v1, so a working tree that
// adds a field without a default (which v2 had) breaks BACKWARD, on a git
// baseline as on a directory baseline holding the same content. Keeping
// the first occurrence of each content took v2 for the latest and let it
// through.
func TestAvroRevertIsAVersion(t *testing.T) {
	t.Parallel()
	w := newGitWorkspace(t, "breaking:\n  avro:\n    compatibility: BACKWARD\n")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
	w.commit("v1")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID, fieldNights))
	w.commit("v2")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
	w.commit("revert to v1")
	dir := t.TempDir()
	git(t, w.dir, "worktree", "add", "-q", "--detach", dir, "main")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID, fieldNights))

	expectRules(t, w.check(".git#branch=main"), "READER_FIELD_MISSING_DEFAULT_VALUE/error")
	expectRules(t, w.check(dir), "READER_FIELD_MISSING_DEFAULT_VALUE/error")
}

// TestAvroSubjectRemoved pins that a deleted schema is reported: git rm of
// a standalone .avsc no one reads is a warning, of one a pact reads an
// error.
func TestAvroSubjectRemoved(t *testing.T) {
	t.Parallel()
	w := newGitWorkspace(t, "")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
	w.write("contracts/stays/v1/avro/Other.avsc", record("example.stays.v1", "Other", "", fieldID))
	w.commit("v1")
	w.remove(stayFile)
	expectRules(t, w.check(".git#branch=main"), RuleAvroSubjectRemoved+"/warning")

	w.write("pacts/hotel-stays.json", `{"consumer": {"name": "hotel"}, "provider": {"name": "stays"},
 "messages": [{"description": "a stay", "contents": {"id": "1"}, "metadata": {"ce_type": "example.stays.v1.Stay"}}],
 "metadata": {"pactSpecification": {"version": "3.0.0"}}}`)
	findings := w.check(".git#branch=main")
	expectRules(t, findings, RuleAvroSubjectRemoved+"/error")
	if len(findings) == 1 && !strings.Contains(findings[0].Message, "hotel") {
		t.Errorf("the finding does not name the pact's consumer: %s", findings[0].Message)
	}
}

// TestAvroRename pins renames of a standalone record, judged against the
// record its file held: without an alias the new name cannot read the
// old data (NAME_MISMATCH) in every mode but NONE; with an alias BACKWARD
// passes and FORWARD still fails, since old readers do not know the new
// name. A namespace move resolves, as the Avro specification (names
// match by their unqualified part), Schema Registry's Java check and
// twmb/avro agree.
func TestAvroRename(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, mode, ns, rec, extra string
		want                       []string
	}{
		{"no alias BACKWARD", "BACKWARD", "example.stays.v1", "Visit", "", []string{"NAME_MISMATCH/error"}},
		{"no alias FORWARD", "FORWARD", "example.stays.v1", "Visit", "", []string{"NAME_MISMATCH/error"}},
		{"alias BACKWARD", "BACKWARD", "example.stays.v1", "Visit", `, "aliases": ["Stay"]`, nil},
		{"alias FULL", "FULL", "example.stays.v1", "Visit", `, "aliases": ["Stay"]`, []string{"NAME_MISMATCH/error"}},
		{"namespace move", "FULL_TRANSITIVE", "example.visits.v2", "Stay", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newGitWorkspace(t, "breaking:\n  avro:\n    compatibility: "+tt.mode+"\n")
			w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
			w.commit("v1")
			w.write(stayFile, record(tt.ns, tt.rec, tt.extra, fieldID))
			expectRules(t, w.check(".git#branch=main"), tt.want...)
		})
	}
}

// stayEvents is an AsyncAPI document whose channel carries the record
// Stay (StayBooked.avsc) on topic stays.events.v1.
const stayEvents = `asyncapi: 3.0.0
info:
  title: Stays
  version: 1.0.0
channels:
  stayEvents:
    address: stays.events.v1
    messages:
      StayBooked:
        $ref: '#/components/messages/StayBooked'
operations:
  publishStayBooked:
    action: send
    channel:
      $ref: '#/channels/stayEvents'
    messages:
      - $ref: '#/channels/stayEvents/messages/StayBooked'
components:
  messages:
    StayBooked:
      name: StayBooked
      payload:
        schemaFormat: application/vnd.apache.avro;version=1.9.0
        schema:
          $ref: './avro/StayBooked.avsc'
      bindings:
        kafka:
          key:
            type: string
            x-keiyaku-field: id
`

// guestEvents receives the channel of stayEvents.
const guestEvents = `asyncapi: 3.0.0
info:
  title: Guests
  version: 1.0.0
channels:
  stayEvents:
    $ref: '../../stays/v1/asyncapi.yaml#/channels/stayEvents'
operations:
  receiveStayBooked:
    action: receive
    channel:
      $ref: '#/channels/stayEvents'
    messages:
      - $ref: '#/channels/stayEvents/messages/StayBooked'
`

const guestFile = "contracts/stays/v1/avro/Guest.avsc"

func stayBooked(name, extra string) string {
	return record("example.stays.v1", name, extra, fieldID,
		`{"name": "guest", "doc": "Who stays.", "type": "example.stays.v1.Guest"}`)
}

// TestAvroNestedUnderSubjectMode pins that a nested record is judged
// inside its subject, in the subject's mode: Guest gains a field without
// a default, which FORWARD (old readers ignore it) accepts and the
// default FULL_TRANSITIVE refuses. The override is keyed by subject.
func TestAvroNestedUnderSubjectMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		breaking string
		want     []string
	}{
		{"breaking:\n  avro:\n    overrides:\n      stays.events.v1-value: FORWARD\n", nil},
		{"", []string{"READER_FIELD_MISSING_DEFAULT_VALUE/error"}},
	} {
		w := newGitWorkspace(t, tt.breaking)
		w.write("contracts/stays/v1/asyncapi.yaml", stayEvents)
		w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayBooked", ""))
		w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID))
		w.commit("v1")
		w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID, fieldNights))
		expectRules(t, w.check(".git#branch=main"), tt.want...)
	}
}

// TestAvroPayloadRenamedOnce pins one finding per root cause: renaming
// the payload record of a channel two modules' documents use is judged
// once, on the subject stays.events.v1-value (NAME_MISMATCH, FORWARD
// mode: one direction), not once per document.
func TestAvroPayloadRenamedOnce(t *testing.T) {
	t.Parallel()
	w := newGitWorkspace(t, "breaking:\n  avro:\n    compatibility: FORWARD\n")
	w.write("contracts/stays/v1/asyncapi.yaml", stayEvents)
	w.write("contracts/guests/v1/asyncapi.yaml", guestEvents)
	w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayBooked", ""))
	w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID))
	w.commit("v1")
	w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayReserved", ""))
	findings := w.check(".git#branch=main")
	expectRules(t, findings, "NAME_MISMATCH/error")
	if len(findings) == 1 && !strings.Contains(findings[0].Message, "subject stays.events.v1-value") {
		t.Errorf("the finding does not name its subject: %s", findings[0].Message)
	}
}

// TestAvroUnloadableVersion pins that a past commit whose schemas do not
// load is a warning naming the commit, not a version silently dropped.
func TestAvroUnloadableVersion(t *testing.T) {
	t.Parallel()
	w := newGitWorkspace(t, "")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
	w.commit("v1")
	w.write(stayFile, `{"type": "record", "name": `)
	broken := w.commit("broken")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
	w.commit("fixed")
	findings := w.check(".git#branch=main")
	expectRules(t, findings, RuleAvroHistoryUnloadable+"/warning")
	if len(findings) == 1 && !strings.Contains(findings[0].Message, broken[:7]) {
		t.Errorf("the warning does not name commit %.7s: %s", broken, findings[0].Message)
	}
}

// TestAvroMergeBase pins merge-base baselines: main gained a schema after
// the pull request's branch was cut. Against main's tip the pull request
// looks like it deletes it; against the merge base it changes nothing.
func TestAvroMergeBase(t *testing.T) {
	t.Parallel()
	w := newGitWorkspace(t, "")
	w.write(stayFile, record("example.stays.v1", "Stay", "", fieldID))
	w.commit("v1")
	git(t, w.dir, "checkout", "-q", "-b", "pr")
	git(t, w.dir, "checkout", "-q", "main")
	w.write("contracts/stays/v1/avro/Late.avsc", record("example.stays.v1", "Late", "", fieldID))
	w.commit("main moves on")
	git(t, w.dir, "checkout", "-q", "pr")

	expectRules(t, w.check(".git#branch=main"), RuleAvroSubjectRemoved+"/warning")
	expectRules(t, w.check(".git#branch=main,merge_base=true"))
}

// TestAvroOverrideUnused pins that an override naming no subject (a typo,
// or a record name that is nested, not a subject) is a warning listing
// the subjects, not silently ignored.
func TestAvroOverrideUnused(t *testing.T) {
	t.Parallel()
	w := newGitWorkspace(t, "breaking:\n  avro:\n    overrides:\n      stays.events.v1-valeu: FORWARD\n      example.stays.v1.StayBooked: FORWARD\n")
	w.write("contracts/stays/v1/asyncapi.yaml", stayEvents)
	w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayBooked", ""))
	w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID))
	w.commit("v1")
	findings := w.check(".git#branch=main")
	expectRules(t, findings, RuleAvroOverrideUnused+"/warning")
	if len(findings) == 1 && !strings.Contains(findings[0].Message, "stays.events.v1-valeu") {
		t.Errorf("the warning does not name the override: %s", findings[0].Message)
	}
}

// TestAvroRecordStrategy pins a record strategy: under
// RecordNameStrategy the payload's subject is its record's full name, so
// a message whose payload becomes another record leaves its subject
// behind, an error because a receive operation (the guests module) reads
// the topic; under TopicNameStrategy the same change is judged inside
// stays.events.v1-value (NAME_MISMATCH).
func TestAvroRecordStrategy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		strategy string
		want     []string
	}{
		{"RecordNameStrategy", []string{RuleAvroSubjectRemoved + "/error"}},
		{"TopicNameStrategy", []string{"NAME_MISMATCH/error"}},
	} {
		t.Run(tt.strategy, func(t *testing.T) {
			t.Parallel()
			w := newGitWorkspace(t, "breaking:\n  avro:\n    compatibility: FORWARD\n    strategies:\n      stays.events.v1: "+tt.strategy+"\n")
			w.write("contracts/stays/v1/asyncapi.yaml", stayEvents)
			w.write("contracts/guests/v1/asyncapi.yaml", guestEvents)
			w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayBooked", ""))
			w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID))
			w.commit("v1")
			w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayReserved", ""))
			expectRules(t, w.check(".git#branch=main"), tt.want...)
		})
	}
}

// twoMessageEvents carries two record types on one topic.
const twoMessageEvents = `asyncapi: 3.0.0
info:
  title: Stays
  version: 1.0.0
channels:
  stayEvents:
    address: stays.events.v1
    messages:
      StayBooked:
        $ref: '#/components/messages/StayBooked'
      StayCancelled:
        $ref: '#/components/messages/StayCancelled'
operations:
  publishStayBooked:
    action: send
    channel:
      $ref: '#/channels/stayEvents'
    messages:
      - $ref: '#/channels/stayEvents/messages/StayBooked'
      - $ref: '#/channels/stayEvents/messages/StayCancelled'
components:
  messages:
    StayBooked:
      name: StayBooked
      payload:
        schemaFormat: application/vnd.apache.avro;version=1.9.0
        schema:
          $ref: './avro/StayBooked.avsc'
      bindings:
        kafka:
          key:
            type: string
            x-keiyaku-field: id
    StayCancelled:
      name: StayCancelled
      payload:
        schemaFormat: application/vnd.apache.avro;version=1.9.0
        schema:
          $ref: './avro/StayCancelled.avsc'
      bindings:
        kafka:
          key:
            type: string
            x-keiyaku-field: id
`

// TestAvroSeveralRecordsOnATopic pins the strategy a channel with two
// record types gets: by default TopicRecordNameStrategy, one subject per
// record, so each evolves on its own (adding a field with a default to
// one passes); with TopicNameStrategy set explicitly, the two records
// clash on one subject, which Schema Registry refuses.
func TestAvroSeveralRecordsOnATopic(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		breaking string
		want     []string
	}{
		{"", nil},
		{"breaking:\n  avro:\n    strategy: TopicNameStrategy\n", []string{RuleAvroSubjectClash + "/error"}},
	} {
		w := newGitWorkspace(t, tt.breaking)
		w.write("contracts/stays/v1/asyncapi.yaml", twoMessageEvents)
		w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayBooked", ""))
		w.write("contracts/stays/v1/avro/StayCancelled.avsc", record("example.stays.v1", "StayCancelled", "", fieldID))
		w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID))
		w.commit("v1")
		w.write("contracts/stays/v1/avro/StayCancelled.avsc", record("example.stays.v1", "StayCancelled", "", fieldID, fieldNightsDflt))
		expectRules(t, w.check(".git#branch=main"), tt.want...)
	}
}

// keyedStayEvents is stayEvents with an Avro record key, StayKey.
var keyedStayEvents = strings.Replace(stayEvents, "          key:\n            type: string\n            x-keiyaku-field: id\n",
	"          key:\n            schemaFormat: application/vnd.apache.avro;version=1.9.0\n            schema:\n              $ref: './avro/StayKey.avsc'\n", 1)

// TestAvroRecordKeySubject pins that an Avro record key is a subject of
// its own, named by the channel's strategy as Schema Registry names key
// subjects (<topic>-key, the record's full name, <topic>-<full name>),
// and judged across the history like a value: a key field added without
// a default is reported on that subject with a counterexample, an
// override keyed by the key subject sets its mode, and the value's
// subject is not involved. Any new key version is also
// message-key-changed: the key's bytes carry its schema, so partitioning
// changes.
func TestAvroRecordKeySubject(t *testing.T) {
	t.Parallel()
	const keyFile = "contracts/stays/v1/avro/StayKey.avsc"
	for _, tt := range []struct {
		name, breaking, field string
		want                  []string
		subject               string // in the Avro finding's message
	}{
		{"topic", "", fieldNights, []string{RuleMessageKeyChanged + "/error", "READER_FIELD_MISSING_DEFAULT_VALUE/error"}, "subject stays.events.v1-key,"},
		{"topic, default", "", fieldNightsDflt, []string{RuleMessageKeyChanged + "/error"}, ""},
		{"topic, override", "breaking:\n  avro:\n    overrides:\n      stays.events.v1-key: FORWARD\n", fieldNights, []string{RuleMessageKeyChanged + "/error"}, ""},
		{"value override only", "breaking:\n  avro:\n    overrides:\n      stays.events.v1-value: FORWARD\n", fieldNights, []string{RuleMessageKeyChanged + "/error", "READER_FIELD_MISSING_DEFAULT_VALUE/error"}, "subject stays.events.v1-key,"},
		{"record", "breaking:\n  avro:\n    strategy: RecordNameStrategy\n", fieldNights, []string{RuleMessageKeyChanged + "/error", "READER_FIELD_MISSING_DEFAULT_VALUE/error"}, "example.stays.v1.StayKey"},
		{"topic record", "breaking:\n  avro:\n    strategy: TopicRecordNameStrategy\n", fieldNights, []string{RuleMessageKeyChanged + "/error", "READER_FIELD_MISSING_DEFAULT_VALUE/error"}, "subject stays.events.v1-example.stays.v1.StayKey,"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newGitWorkspace(t, tt.breaking)
			w.write("contracts/stays/v1/asyncapi.yaml", keyedStayEvents)
			w.write("contracts/guests/v1/asyncapi.yaml", guestEvents)
			w.write("contracts/stays/v1/avro/StayBooked.avsc", stayBooked("StayBooked", ""))
			w.write(guestFile, record("example.stays.v1", "Guest", "", fieldID))
			w.write(keyFile, record("example.stays.v1", "StayKey", "", fieldID))
			w.commit("v1")
			w.write(keyFile, record("example.stays.v1", "StayKey", "", fieldID, tt.field))
			findings := w.check(".git#branch=main")
			expectRules(t, findings, tt.want...)
			for _, f := range findings {
				switch f.Rule {
				case "READER_FIELD_MISSING_DEFAULT_VALUE":
					if f.File != keyFile || !strings.Contains(f.Message, tt.subject) || !strings.Contains(f.Message, `counterexample: {"id":`) {
						t.Errorf("the key finding is not at %s on %q with a counterexample: %s", keyFile, tt.subject, f)
					}
				case RuleMessageKeyChanged:
					if !strings.Contains(f.Message, "example.stays.v1.StayKey") || !strings.Contains(f.Message, "another partition") {
						t.Errorf("message-key-changed does not name the key record and the partitioning: %s", f)
					}
				}
			}
		})
	}
}
