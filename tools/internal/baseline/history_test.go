package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
)

// schema returns an Avro record schema with enough fields that a small
// edit keeps it similar, as git's rename detection needs.
func schema(ns, name, version string) string {
	var fields []string
	for _, f := range []string{"id", "createdAt", "memberId", "roomId", "nights", "currency", "amount", "note"} {
		fields = append(fields, fmt.Sprintf("    {\"name\": %q, \"type\": \"string\"}", f))
	}
	return fmt.Sprintf("{\n  \"type\": \"record\",\n  \"namespace\": %q,\n  \"name\": %q,\n  \"doc\": %q,\n  \"fields\": [\n%s\n  ]\n}\n",
		ns, name, version, strings.Join(fields, ",\n"))
}

// revisionSummary is what the history tests compare: path, commit and
// content of each version.
type revisionSummary struct {
	Key, Path, Commit, Content string
}

func summarize(revs []Revision) []revisionSummary {
	var out []revisionSummary
	for _, r := range revs {
		out = append(out, revisionSummary{r.Key, r.Path, r.Commit, string(r.Content)})
	}
	return out
}

func diffSummaries(t *testing.T, got []Revision, want []revisionSummary) {
	t.Helper()
	gs := summarize(got)
	if !slices.Equal(gs, want) {
		t.Errorf("got %d versions:", len(gs))
		for _, g := range gs {
			t.Errorf("  %s %s %.7s %q", g.Key, g.Path, g.Commit, g.Content)
		}
		t.Errorf("want %d:", len(want))
		for _, w := range want {
			t.Errorf("  %s %s %.7s %q", w.Key, w.Path, w.Commit, w.Content)
		}
	}
	for _, r := range got {
		if r.Time.IsZero() {
			t.Errorf("%s at %.7s has no commit time", r.Path, r.Commit)
		}
	}
}

// TestHistoryFiveVersions pins the promise the Avro gate relies on: a
// schema with five distinct contents has five versions, oldest first, each
// with the commit that introduced it, and commits that restore an earlier
// content (or do not touch the file) add none.
func TestHistoryFiveVersions(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	v := func(i int) string { return schema("hotel.v1", "ReservationCreated", fmt.Sprintf("v%d", i)) }
	p := "contracts/avro/ReservationCreated.avsc"
	c1 := r.commit("v1", map[string]string{p: v(1), "README": "r\n"})
	c2 := r.commit("v2", map[string]string{p: v(2)})
	c3 := r.commit("v3", map[string]string{p: v(3)})
	r.commit("back to v2", map[string]string{p: v(2)})
	c5 := r.commit("v4", map[string]string{p: v(4)})
	r.commit("unrelated", map[string]string{"README": "r2\n"})
	c7 := r.commit("v5", map[string]string{p: v(5)})
	r.commit("back to v1", map[string]string{p: v(1)})
	r.commit("unrelated again", map[string]string{"README": "r3\n"})

	b, err := Open(t.Context(), mustParse(t, ".git#branch=main"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.History(t.Context(), []string{p})
	if err != nil {
		t.Fatal(err)
	}
	diffSummaries(t, got, []revisionSummary{
		{p, p, c1, v(1)}, {p, p, c2, v(2)}, {p, p, c3, v(3)}, {p, p, c5, v(4)}, {p, p, c7, v(5)},
	})
	for i := 1; i < len(got); i++ {
		if !got[i-1].Time.Before(got[i].Time) {
			t.Errorf("version %d is not older than version %d", i-1, i)
		}
	}

	// The same history through HistoryOf, keyed by file name.
	byName, err := b.HistoryOf(t.Context(), ".", func(p string, _ []byte) (string, bool) { return path.Base(p), true }, WithPattern("*.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(byName["ReservationCreated.avsc"]); n != 5 || len(byName) != 1 {
		t.Errorf("HistoryOf = %d keys, %d versions; want 1 key with 5", len(byName), n)
	}
}

// TestHistoryFollowsRenames pins that History follows a file through git
// mv (pure, and with an edit, into another folder), keeps the path it had
// in each commit, and does not mix in an unrelated file created later
// under an old name. The workspace is a subdir of the repository.
func TestHistoryFollowsRenames(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	v := func(i int) string { return schema("hotel.v1", "Money", fmt.Sprintf("v%d", i)) }
	c1 := r.commit("v1", map[string]string{"ws/avro/a.avsc": v(1), "other/x": "x\n"})
	c2 := r.commit("v2", map[string]string{"ws/avro/a.avsc": v(2)})
	r.mv("ws/avro/a.avsc", "ws/avro/b.avsc", "rename", nil)
	c4 := r.commit("v3", map[string]string{"ws/avro/b.avsc": v(3), "other/x": "y\n"})
	c5 := r.mv("ws/avro/b.avsc", "ws/events/c.avsc", "move and edit", map[string]string{"ws/events/c.avsc": v(4)})
	unrelated := "{\"type\": \"enum\", \"name\": \"Other\", \"symbols\": [\"A\"]}\n"
	c6 := r.commit("new a", map[string]string{"ws/avro/a.avsc": unrelated})
	// The baseline commit does not touch the workspace folder.
	r.commit("outside only", map[string]string{"other/x": "z\n"})

	b, err := Open(t.Context(), mustParse(t, ".git#subdir=ws"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.History(t.Context(), []string{"events/c.avsc", "avro/a.avsc", "avro/absent.avsc", "events/c.avsc"})
	if err != nil {
		t.Fatal(err)
	}
	const c, a = "events/c.avsc", "avro/a.avsc"
	diffSummaries(t, got, []revisionSummary{
		{c, "avro/a.avsc", c1, v(1)},
		{c, "avro/a.avsc", c2, v(2)},
		{c, "avro/b.avsc", c4, v(3)},
		{c, "events/c.avsc", c5, v(4)},
		{a, "avro/a.avsc", c6, unrelated},
	})
}

// TestHistoryMerges pins that versions made on a merged branch are part of
// the history, as are those of the main line, with the merge result last.
func TestHistoryMerges(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	p := "s.avsc"
	v := func(s string) string { return schema("hotel.v1", "S", s) }
	c1 := r.commit("v1", map[string]string{p: v("v1")})
	r.git("checkout", "-q", "-b", "side")
	cSide := r.commit("side", map[string]string{p: v("side")})
	r.git("checkout", "-q", "main")
	cMain := r.commit("main", map[string]string{p: v("main")})
	if _, err := r.tryGit("merge", "-q", "--no-edit", "side"); err == nil {
		t.Fatal("merge without conflict; the test wants one")
	}
	cMerge := r.commit("merged", map[string]string{p: v("merged")})
	r.commit("after", map[string]string{"README": "r\n"})

	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.History(t.Context(), []string{p})
	if err != nil {
		t.Fatal(err)
	}
	s := summarize(got)
	if len(s) != 4 || s[0].Commit != c1 || s[3].Commit != cMerge {
		t.Fatalf("History = %+v; want v1 first, both branches, the merge last", s)
	}
	middle := []string{s[1].Commit, s[2].Commit}
	slices.Sort(middle)
	want := []string{cSide, cMain}
	slices.Sort(want)
	if !slices.Equal(middle, want) {
		t.Errorf("branch versions from %v, want %v", middle, want)
	}
}

// avroFullName is the match function the Avro gate uses: the schema's full
// name, or ok false for a file that is not a named schema.
func avroFullName(_ string, content []byte) (string, bool) {
	var s struct{ Namespace, Name string }
	if err := json.Unmarshal(content, &s); err != nil || s.Name == "" {
		return "", false
	}
	if s.Namespace == "" {
		return s.Name, true
	}
	return s.Namespace + "." + s.Name, true
}

// TestHistoryOf pins history keyed by the caller's identity: an Avro
// schema keeps its versions when its file is renamed and moved, schemas
// deleted before the baseline keep theirs, a content restored adds
// nothing, files outside the pattern are never given to match, and files
// match refuses are left out.
func TestHistoryOf(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	money := func(s string) string { return schema("hotel.v1", "Money", s) }
	created := func(s string) string { return schema("hotel.v1", "Created", s) }
	gone := schema("hotel.v1", "Gone", "v1")
	c1 := r.commit("one", map[string]string{
		"api/avro/Money.avsc":   money("v1"),
		"api/avro/Created.avsc": created("v1"),
		"api/avro/broken.avsc":  "{not json",
		"api/openapi.yaml":      "openapi: 3.0.3\n",
		"elsewhere/E.avsc":      schema("hotel.v1", "Elsewhere", "v1"),
	})
	c2 := r.commit("money v2", map[string]string{"api/avro/Money.avsc": money("v2")})
	c3 := r.mv("api/avro/Money.avsc", "api/shared/Amount.avsc", "move money", map[string]string{"api/shared/Amount.avsc": money("v3")})
	c4 := r.commit("created v2, gone", map[string]string{"api/avro/Created.avsc": created("v2"), "api/avro/Gone.avsc": gone})
	r.git("rm", "-q", "api/avro/Gone.avsc")
	r.commit("money back to v1, gone deleted", map[string]string{"api/shared/Amount.avsc": money("v1")})

	b, err := Open(t.Context(), mustParse(t, ".git#subdir=api"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var calls []string
	got, err := b.HistoryOf(t.Context(), ".", func(p string, content []byte) (string, bool) {
		calls = append(calls, p)
		return avroFullName(p, content)
	}, WithPattern("*.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		if !strings.HasSuffix(c, ".avsc") {
			t.Errorf("match called with %s, outside the pattern", c)
		}
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"hotel.v1.Created", "hotel.v1.Gone", "hotel.v1.Money"}; !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	const m, cr, g = "hotel.v1.Money", "hotel.v1.Created", "hotel.v1.Gone"
	diffSummaries(t, got[m], []revisionSummary{
		{m, "avro/Money.avsc", c1, money("v1")},
		{m, "avro/Money.avsc", c2, money("v2")},
		{m, "shared/Amount.avsc", c3, money("v3")},
	})
	diffSummaries(t, got[cr], []revisionSummary{
		{cr, "avro/Created.avsc", c1, created("v1")},
		{cr, "avro/Created.avsc", c4, created("v2")},
	})
	diffSummaries(t, got[g], []revisionSummary{{g, "avro/Gone.avsc", c4, gone}})

	// Limited to one folder.
	avroOnly, err := b.HistoryOf(t.Context(), "avro", avroFullName)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(avroOnly[m]); n != 2 {
		t.Errorf("HistoryOf(avro) has %d versions of Money, want the 2 made in avro/", n)
	}
	if _, ok := avroOnly["hotel.v1.Elsewhere"]; ok {
		t.Error("HistoryOf read a file outside the workspace folder")
	}
}

// TestHistoryTruncated pins the commit limit: only the newest commits are
// read, and the result comes with an error wrapping ErrTruncated that says
// so.
func TestHistoryTruncated(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	p := "s.avsc"
	var commits []string
	for i := 1; i <= 5; i++ {
		commits = append(commits, r.commit("v", map[string]string{p: schema("n", "S", fmt.Sprint(i))}))
	}
	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	got, err := b.History(t.Context(), []string{p}, WithMaxCommits(2))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "read the 2 newest commits") {
		t.Errorf("err = %v, want ErrTruncated", err)
	}
	if s := summarize(got); len(s) != 2 || s[0].Commit != commits[3] || s[1].Commit != commits[4] {
		t.Errorf("History = %+v, want the 2 newest versions", s)
	}
	byKey, err := b.HistoryOf(t.Context(), ".", avroFullName, WithMaxCommits(3))
	if !errors.Is(err, ErrTruncated) || len(byKey["n.S"]) != 3 {
		t.Errorf("HistoryOf = %d versions, %v; want 3 and ErrTruncated", len(byKey["n.S"]), err)
	}
	if _, err := b.History(t.Context(), []string{p}, WithMaxCommits(5)); err != nil {
		t.Errorf("History with a limit equal to the commits: %v", err)
	}
}

// TestHistoryErrors pins bad history arguments: errors, not panics.
func TestHistoryErrors(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit("one", map[string]string{"a": "a\n"})
	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"path above", func() error { _, err := b.History(t.Context(), []string{"../a"}); return err }, "invalid argument"},
		{"root", func() error { _, err := b.History(t.Context(), []string{"."}); return err }, "invalid argument"},
		{"zero commits", func() error { _, err := b.History(t.Context(), []string{"a"}, WithMaxCommits(0)); return err }, "WithMaxCommits: 0"},
		{"bad pattern", func() error { _, err := b.HistoryOf(t.Context(), ".", avroFullName, WithPattern("[")); return err }, "WithPattern"},
		{"nil match", func() error { _, err := b.HistoryOf(t.Context(), ".", nil); return err }, "nil match"},
		{"dir above", func() error { _, err := b.HistoryOf(t.Context(), "..", avroFullName); return err }, "invalid argument"},
		{"canceled", func() error { _, err := b.History(canceled, []string{"a"}); return err }, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestHistoryDirBaseline pins that a directory baseline has one version of
// each file, through History and HistoryOf.
func TestHistoryDirBaseline(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write(map[string]string{"avro/M.avsc": schema("n", "M", "1"), "avro/N.avsc": schema("n", "N", "1"), "x.yaml": "x\n"})
	b, err := Open(t.Context(), mustParse(t, r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.HistoryOf(t.Context(), ".", avroFullName, WithPattern("*.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got["n.M"]) != 1 || got["n.M"][0].Path != "avro/M.avsc" {
		t.Errorf("HistoryOf = %+v", got)
	}
	if _, err := b.HistoryOf(t.Context(), "absent", avroFullName); err != nil {
		t.Errorf("HistoryOf(absent): %v", err)
	}
}
