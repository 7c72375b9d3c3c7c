package avrocompat_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/avrocompat"
)

var update = flag.Bool("update", false, "rewrite the want.txt golden files in testdata")

// loadCase reads testdata/<name>/v1.avsc, v2.avsc, … in version order.
func loadCase(t testing.TB, name string) []avrocompat.Version {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", name, "v*.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	num := func(f string) int {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "v"), ".avsc"))
		if err != nil {
			t.Fatalf("%s: want files named v<N>.avsc", f)
		}
		return n
	}
	slices.SortFunc(files, func(a, b string) int { return num(a) - num(b) })
	if len(files) < 2 {
		t.Fatalf("testdata/%s: want at least v1.avsc and v2.avsc", name)
	}
	vs := make([]avrocompat.Version, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		vs[i] = avrocompat.Version{Label: strings.TrimSuffix(filepath.Base(f), ".avsc"), Schema: string(b), File: filepath.ToSlash(f)}
	}
	return vs
}

// cases lists the folders of testdata.
func cases(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no cases in testdata")
	}
	return names
}

// render formats the result of every mode for a golden file.
func render(t *testing.T, vs []avrocompat.Version) string {
	t.Helper()
	var b strings.Builder
	history, next := vs[:len(vs)-1], vs[len(vs)-1]
	for _, m := range avrocompat.Modes() {
		found, err := avrocompat.Check(m, history, next)
		if err != nil {
			t.Fatalf("Check(%s): %v", m, err)
		}
		if len(found) == 0 {
			fmt.Fprintf(&b, "%s: compatible\n", m)
			continue
		}
		fmt.Fprintf(&b, "%s:\n", m)
		for _, f := range found {
			fmt.Fprintf(&b, "\t%s %s %s reader=%s writer=%s\n\t\t%s\n", f.Type, f.Path, f.Direction, f.Reader, f.Writer, f.Message)
		}
	}
	return b.String()
}

// TestCheckGolden pins, for every testdata case and every mode, the full
// list of incompatibilities of the last version against the earlier ones:
// type, Confluent path, direction, the versions involved and the message.
// Run with -update to rewrite want.txt after an intended change.
func TestCheckGolden(t *testing.T) {
	t.Parallel()
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := render(t, loadCase(t, name))
			file := filepath.Join("testdata", name, "want.txt")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// TestCheckAgreesWithTwmbAvro is a differential test: for every ordered
// pair of schemas in testdata (same case or not), Check must call the pair
// compatible exactly when twmb/avro's CheckCompatibility and Resolve do,
// the library that decodes our events at run time. The schemas first get
// explicit null defaults (see explicitNullDefaults), the one rule where
// the two knowingly differ. It also checks that the corpus holds both
// verdicts, so it cannot pass vacuously.
func TestCheckAgreesWithTwmbAvro(t *testing.T) {
	t.Parallel()
	type schema struct {
		v      avrocompat.Version
		parsed *avro.Schema
	}
	var all []schema
	for _, name := range cases(t) {
		for _, v := range loadCase(t, name) {
			text, err := explicitNullDefaults(v.Schema)
			if err != nil {
				t.Fatalf("%s: %v", v.File, err)
			}
			s, err := avro.Parse(text)
			if err != nil {
				t.Fatalf("%s: %v", v.File, err)
			}
			v.Label, v.Schema = v.File, text
			all = append(all, schema{v, s})
		}
	}
	var compatible, incompatible int
	for _, w := range all {
		for _, r := range all {
			found, err := avrocompat.Check(avrocompat.Backward, []avrocompat.Version{w.v}, r.v)
			if err != nil {
				t.Fatalf("Check(reader %s, writer %s): %v", r.v.File, w.v.File, err)
			}
			checkErr := avro.CheckCompatibility(w.parsed, r.parsed)
			_, resolveErr := avro.Resolve(w.parsed, r.parsed)
			ours := len(found) == 0
			if ours != (checkErr == nil) || ours != (resolveErr == nil) {
				t.Errorf("reader %s, writer %s: Check found %d incompatibilities %v; twmb CheckCompatibility: %v; Resolve: %v",
					r.v.File, w.v.File, len(found), found, checkErr, resolveErr)
			}
			if ours {
				compatible++
			} else {
				incompatible++
			}
		}
	}
	if compatible < 50 || incompatible < 50 {
		t.Errorf("corpus too one-sided: %d compatible pairs, %d incompatible", compatible, incompatible)
	}
	t.Logf("%d schemas, %d compatible pairs, %d incompatible", len(all), compatible, incompatible)
}

// TestCheckTransitivity pins the promise of the _TRANSITIVE modes on the
// two 3-version cases built for it: each step passes the plain mode, and
// the transitive mode fails against v1 only.
func TestCheckTransitivity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                string
		plain, transitive   avrocompat.Mode
		typ, path, dir, old string
	}{
		{"transitive_backward", avrocompat.Backward, avrocompat.BackwardTransitive,
			avrocompat.ReaderFieldMissingDefaultValue, "/fields/1", avrocompat.NewReadsOld, "v1"},
		{"transitive_forward", avrocompat.Forward, avrocompat.ForwardTransitive,
			avrocompat.ReaderFieldMissingDefaultValue, "/fields/1", avrocompat.OldReadsNew, "v1"},
		{"transitive_forward", avrocompat.Full, avrocompat.FullTransitive,
			avrocompat.ReaderFieldMissingDefaultValue, "/fields/1", avrocompat.OldReadsNew, "v1"},
	} {
		t.Run(c.name+"/"+string(c.transitive), func(t *testing.T) {
			t.Parallel()
			vs := loadCase(t, c.name)
			if len(vs) != 3 {
				t.Fatalf("want 3 versions, have %d", len(vs))
			}
			// Every step on its own passes the plain mode.
			for i := 1; i < len(vs); i++ {
				found, err := avrocompat.Check(c.plain, vs[:i], vs[i])
				if err != nil || len(found) != 0 {
					t.Fatalf("%s of v%d against v1..v%d = %v, %v; want compatible", c.plain, i+1, i, found, err)
				}
			}
			found, err := avrocompat.Check(c.transitive, vs[:2], vs[2])
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 {
				t.Fatalf("%s = %v; want one incompatibility", c.transitive, found)
			}
			f := found[0]
			oldIs := f.Writer
			if c.dir == avrocompat.OldReadsNew {
				oldIs = f.Reader
			}
			if f.Type != c.typ || f.Path != c.path || f.Direction != c.dir || oldIs != c.old {
				t.Errorf("got %+v; want %s at %s, %s, against %s", f, c.typ, c.path, c.dir, c.old)
			}
		})
	}
}

// TestCheckReportsAll pins that a pair is walked to the end: every broken
// field of one change is reported, not only the first.
func TestCheckReportsAll(t *testing.T) {
	t.Parallel()
	vs := loadCase(t, "many_changes")
	found, err := avrocompat.Check(avrocompat.Full, vs[:1], vs[1])
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, f := range found {
		types[f.Type+" "+f.Direction] = true
	}
	for _, want := range []string{
		avrocompat.TypeMismatch + " backward",
		avrocompat.TypeMismatch + " forward",
		avrocompat.MissingEnumSymbols + " backward",
		avrocompat.ReaderFieldMissingDefaultValue + " backward",
		avrocompat.ReaderFieldMissingDefaultValue + " forward",
	} {
		if !types[want] {
			t.Errorf("missing %s in %v", want, found)
		}
	}
}

// TestCheckDeduplicates pins that a problem present against several
// earlier versions is reported once, against the newest of them.
func TestCheckDeduplicates(t *testing.T) {
	t.Parallel()
	vs := loadCase(t, "transitive_dedup")
	found, err := avrocompat.Check(avrocompat.FullTransitive, vs[:2], vs[2])
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("got %v; want one finding per direction", found)
	}
	for _, f := range found {
		if f.Reader != "v2" && f.Writer != "v2" {
			t.Errorf("%v: want it reported against v2, the newest version that has it", f)
		}
	}
}

// TestParseMode pins that modes parse case-insensitively and that a bad
// one is an error wrapping ErrUnknownMode that lists the valid modes.
func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want avrocompat.Mode
		ok   bool
	}{
		{"BACKWARD", avrocompat.Backward, true},
		{"backward_transitive", avrocompat.BackwardTransitive, true},
		{"Forward", avrocompat.Forward, true},
		{"forward_TRANSITIVE", avrocompat.ForwardTransitive, true},
		{"full", avrocompat.Full, true},
		{" FULL_TRANSITIVE\n", avrocompat.FullTransitive, true},
		{"none", avrocompat.None, true},
		{"", "", false},
		{"full-transitive", "", false},
		{"STRICT", "", false},
	} {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := avrocompat.ParseMode(c.in)
			if c.ok {
				if err != nil || got != c.want {
					t.Errorf("ParseMode(%q) = %q, %v; want %q", c.in, got, err, c.want)
				}
				return
			}
			if !errors.Is(err, avrocompat.ErrUnknownMode) {
				t.Fatalf("ParseMode(%q) error = %v; want ErrUnknownMode", c.in, err)
			}
			for _, m := range avrocompat.Modes() {
				if !strings.Contains(err.Error(), string(m)+",") && !strings.HasSuffix(err.Error(), string(m)) {
					t.Errorf("error %q does not list %s", err, m)
				}
			}
		})
	}
}

// TestCheckBadInput pins that bad input gives a clear error, never a
// panic or a hang: the error names the version label and file, wraps the
// parser's error, and only versions the mode compares are parsed.
func TestCheckBadInput(t *testing.T) {
	t.Parallel()
	good := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	deep := strings.Repeat(`{"type":"array","items":`, 100_000) + `"int"` + strings.Repeat(`}`, 100_000)
	v := func(label, schema string) avrocompat.Version {
		return avrocompat.Version{Label: label, Schema: schema, File: "contracts/x/" + label + ".avsc"}
	}
	for _, c := range []struct {
		name    string
		mode    avrocompat.Mode
		history []avrocompat.Version
		next    avrocompat.Version
		label   string // version the error must name; "" for no error
		unknown bool   // error wraps ErrUnknownMode
	}{
		{"next not JSON", avrocompat.Backward, []avrocompat.Version{v("v1", good)}, v("v2", `{"type":`), "v2", false},
		{"next empty", avrocompat.Backward, []avrocompat.Version{v("v1", good)}, v("v2", ""), "v2", false},
		{"next unknown type", avrocompat.Backward, []avrocompat.Version{v("v1", good)},
			v("v2", `{"type":"record","name":"R","fields":[{"name":"a","type":"Nope"}]}`), "v2", false},
		{"next bad default", avrocompat.Backward, []avrocompat.Version{v("v1", good)},
			v("v2", `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}`), "v2", false},
		{"next too deep", avrocompat.Backward, []avrocompat.Version{v("v1", good)}, v("v2", deep), "v2", false},
		{"next broken in mode NONE", avrocompat.None, nil, v("v2", "[1"), "v2", false},
		{"latest history broken", avrocompat.Forward, []avrocompat.Version{v("v1", good), v("v2", "nope")}, v("v3", good), "v2", false},
		{"older history broken, plain mode", avrocompat.Full, []avrocompat.Version{v("v1", "nope"), v("v2", good)}, v("v3", good), "", false},
		{"older history broken, transitive mode", avrocompat.FullTransitive, []avrocompat.Version{v("v1", "nope"), v("v2", good)}, v("v3", good), "v1", false},
		{"unknown mode", "SOMETIMES", []avrocompat.Version{v("v1", good)}, v("v2", good), "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			found, err := avrocompat.Check(c.mode, c.history, c.next)
			switch {
			case c.unknown:
				if !errors.Is(err, avrocompat.ErrUnknownMode) {
					t.Fatalf("err = %v; want ErrUnknownMode", err)
				}
			case c.label == "":
				if err != nil || len(found) != 0 {
					t.Fatalf("Check = %v, %v; want compatible", found, err)
				}
			default:
				var se *avrocompat.SchemaError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v; want a *SchemaError", err)
				}
				if se.Label != c.label || se.Err == nil {
					t.Errorf("SchemaError = %+v; want label %s and the parser's error", se, c.label)
				}
				for _, s := range []string{`"` + c.label + `"`, "contracts/x/" + c.label + ".avsc"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
			}
		})
	}
}

// TestCheckNothingToCompare pins that an empty history and mode NONE
// report nothing, however different the schemas.
func TestCheckNothingToCompare(t *testing.T) {
	t.Parallel()
	vs := loadCase(t, "many_changes")
	for _, c := range []struct {
		name    string
		mode    avrocompat.Mode
		history []avrocompat.Version
	}{
		{"empty history", avrocompat.FullTransitive, nil},
		{"mode NONE", avrocompat.None, vs[:1]},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			found, err := avrocompat.Check(c.mode, c.history, vs[1])
			if err != nil || found != nil {
				t.Errorf("Check = %v, %v; want nil, nil", found, err)
			}
		})
	}
}

// FuzzCheck holds Check to twmb/avro's verdict on arbitrary schema pairs
// and to never panicking or hanging; the seeds are the testdata schemas.
func FuzzCheck(f *testing.F) {
	entries, err := filepath.Glob(filepath.Join("testdata", "*", "v*.avsc"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds []string
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, writer, reader string) {
		check := func(w, r string) ([]avrocompat.Incompatibility, error) {
			return avrocompat.Check(avrocompat.Backward,
				[]avrocompat.Version{{Label: "w", Schema: w}}, avrocompat.Version{Label: "r", Schema: r})
		}
		_, rawErr := check(writer, reader)
		w, werr := explicitNullDefaults(writer)
		r, rerr := explicitNullDefaults(reader)
		if werr != nil || rerr != nil {
			if rawErr == nil {
				t.Fatalf("Check accepted a schema twmb/avro rejects: %v, %v", werr, rerr)
			}
			return
		}
		if rawErr != nil {
			t.Fatalf("Check: %v", rawErr)
		}
		found, err := check(w, r)
		if err != nil {
			t.Fatalf("Check of the rewritten schemas: %v", err)
		}
		ws, err := avro.Parse(w)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := avro.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		theirs := avro.CheckCompatibility(ws, rs)
		if (len(found) == 0) != (theirs == nil) {
			t.Fatalf("Check found %v; twmb/avro: %v", found, theirs)
		}
	})
}

// explicitNullDefaults rewrites schema so that every field without a
// default whose type is a union with null first gets "default": null.
// twmb/avro implies that default; Apache Avro and Confluent Schema Registry
// do not, and Check follows them (TestCheckImplicitNullDefault pins it).
// With the defaults written out, the rule cannot apply and the verdicts
// must agree everywhere.
func explicitNullDefaults(schema string) (string, error) {
	s, err := avro.Parse(schema)
	if err != nil {
		return "", err
	}
	root := s.Root()
	var walk func(n *avro.SchemaNode)
	walk = func(n *avro.SchemaNode) {
		switch n.Type {
		case "record", "error":
			for i := range n.Fields {
				f := &n.Fields[i]
				if !f.HasDefault && f.Type.Type == "union" && len(f.Type.Branches) > 0 && f.Type.Branches[0].Type == "null" {
					f.HasDefault, f.Default = true, nil
				}
				walk(&f.Type)
			}
		case "array":
			walk(n.Items)
		case "map":
			walk(n.Values)
		case "union":
			for i := range n.Branches {
				walk(&n.Branches[i])
			}
		}
	}
	walk(root)
	out, err := root.Schema()
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

// TestCheckImplicitNullDefault pins the one rule where Check knowingly
// differs from twmb/avro: a field missing from the writer whose type is a
// union with null first, but which has no "default", is
// READER_FIELD_MISSING_DEFAULT_VALUE, as in Apache Avro and Confluent
// Schema Registry (which would refuse to register it), while twmb/avro
// implies a null default. If twmb/avro changes, this test says so.
func TestCheckImplicitNullDefault(t *testing.T) {
	t.Parallel()
	vs := loadCase(t, "add_nullable_field_without_default")
	for _, c := range []struct {
		mode          avrocompat.Mode
		reader, write avrocompat.Version
	}{
		{avrocompat.Backward, vs[1], vs[0]},
		{avrocompat.Forward, vs[0], vs[1]},
	} {
		t.Run(string(c.mode), func(t *testing.T) {
			t.Parallel()
			// The field is added in v2 and missing from v1: backward
			// checks v2 reading v1; forward, with v1 as next, v1 reading v2
			// with the field removed.
			history, next := vs[:1], vs[1]
			if c.mode == avrocompat.Forward {
				history, next = vs[1:], vs[0]
			}
			found, err := avrocompat.Check(c.mode, history, next)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 || found[0].Type != avrocompat.ReaderFieldMissingDefaultValue || found[0].Path != "/fields/1" {
				t.Errorf("Check = %v; want one READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1", found)
			}
			r, err := avro.Parse(c.reader.Schema)
			if err != nil {
				t.Fatal(err)
			}
			w, err := avro.Parse(c.write.Schema)
			if err != nil {
				t.Fatal(err)
			}
			if err := avro.CheckCompatibility(w, r); err != nil {
				t.Errorf("twmb/avro now rejects the pair (%v): drop this exception and explicitNullDefaults", err)
			}
		})
	}
}
