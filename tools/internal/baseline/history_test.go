package baseline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// TestCommits pins the promise the Avro gate relies on: every commit that
// changes one of the folders, oldest first, including one that restores an
// earlier content (a revert is a new version), and the baseline commit
// last even when it changes none of them.
func TestCommits(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	v := func(i int) string { return schema("hotel.v1", "ReservationCreated", fmt.Sprintf("v%d", i)) }
	p := "contracts/avro/ReservationCreated.avsc"
	c1 := r.commit("v1", map[string]string{p: v(1), "README": "r\n"})
	c2 := r.commit("v2", map[string]string{p: v(2)})
	c3 := r.commit("back to v1", map[string]string{p: v(1)})
	r.commit("unrelated", map[string]string{"README": "r2\n"})
	c5 := r.commit("other folder", map[string]string{"more/x.avsc": v(3)})
	c6 := r.commit("unrelated again", map[string]string{"README": "r3\n"})

	b, err := Open(t.Context(), mustParse(t, ".git#branch=main"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Commits(t.Context(), []string{"contracts", "more"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{c1, c2, c3, c5, c6}; !slices.Equal(got, want) {
		t.Errorf("Commits = %.7s, want %.7s", got, want)
	}
	got, err = b.Commits(t.Context(), []string{"contracts"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{c1, c2, c3, c6}; !slices.Equal(got, want) {
		t.Errorf("Commits(contracts) = %.7s, want %.7s", got, want)
	}
}

// TestCommitsMerges pins that commits made on a merged branch are part of
// the history, as are those of the main line, with the merge last.
func TestCommitsMerges(t *testing.T) {
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

	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Commits(t.Context(), []string{"."})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != c1 || got[3] != cMerge {
		t.Fatalf("Commits = %.7s; want v1 first, both branches, the merge last", got)
	}
	middle := slices.Sorted(slices.Values(got[1:3]))
	want := slices.Sorted(slices.Values([]string{cSide, cMain}))
	if !slices.Equal(middle, want) {
		t.Errorf("branch commits %.7s, want %.7s", middle, want)
	}
}

// TestCommitsTruncated pins the commit limit: only the newest commits are
// listed, with an error wrapping ErrTruncated that says so.
func TestCommitsTruncated(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	var commits []string
	for i := 1; i <= 5; i++ {
		commits = append(commits, r.commit("v", map[string]string{"s.avsc": schema("n", "S", fmt.Sprint(i))}))
	}
	b, err := Open(t.Context(), mustParse(t, ".git"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Commits(t.Context(), []string{"."}, WithMaxCommits(2))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "read the 2 newest commits") {
		t.Errorf("err = %v, want ErrTruncated", err)
	}
	if !slices.Equal(got, commits[3:]) {
		t.Errorf("Commits = %.7s, want the 2 newest", got)
	}
	if _, err := b.Commits(t.Context(), []string{"."}, WithMaxCommits(5)); err != nil {
		t.Errorf("a limit equal to the commits: %v", err)
	}
}

// TestCommitsErrors pins bad arguments: errors, not panics.
func TestCommitsErrors(t *testing.T) {
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
	if _, err := b.Commits(t.Context(), []string{"../a"}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("a folder above: %v, want fs.ErrInvalid", err)
	}
	if _, err := b.Commits(t.Context(), []string{"a"}, WithMaxCommits(0)); err == nil || !strings.Contains(err.Error(), "WithMaxCommits: 0") {
		t.Errorf("zero commits: %v", err)
	}
	if _, err := b.Commits(canceled, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	dir, err := Open(t.Context(), mustParse(t, r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if got, err := dir.Commits(t.Context(), []string{"."}); got != nil || err != nil {
		t.Errorf("a directory baseline: %v, %v; want nil, nil", got, err)
	}
}

// TestAt pins Baseline.At: the same workspace folder at another commit,
// read through the parent's git processes (closing it leaves the parent
// working), and clear errors for what is not a full commit id or a
// directory baseline.
func TestAt(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c1 := r.commit("v1", map[string]string{"ws/a": "1\n"})
	r.commit("v2", map[string]string{"ws/a": "2\n"})
	b, err := Open(t.Context(), mustParse(t, ".git#subdir=ws"), WithDir(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	at, err := b.At(c1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := at.ReadFile("a"); err != nil || string(got) != "1\n" {
		t.Errorf("a at v1 = %q, %v", got, err)
	}
	if at.Commit() != c1 || at.Label() != c1[:7] {
		t.Errorf("Commit, Label = %s, %s", at.Commit(), at.Label())
	}
	if err := at.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadFile("a"); err != nil || string(got) != "2\n" {
		t.Errorf("the parent after the child's Close: %q, %v", got, err)
	}
	if _, err := b.At(c1[:7]); err == nil || !strings.Contains(err.Error(), "not a full commit id") {
		t.Errorf("short id: %v", err)
	}
	if _, err := b.At(strings.Repeat("0", len(c1))); err == nil {
		t.Error("a missing commit opened")
	}
	dir, err := Open(t.Context(), mustParse(t, r.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if _, err := dir.At(c1); err == nil {
		t.Error("At on a directory baseline did not fail")
	}
}
