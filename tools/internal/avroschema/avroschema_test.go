package avroschema_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

var update = flag.Bool("update", false, "rewrite the want.txt golden files")

// caseTimeout bounds one load: hostile files must be refused fast.
const caseTimeout = 10 * time.Second

// load opens root and loads the folder dir of it, turning a panic into a
// test failure and failing the test when the load takes longer than
// caseTimeout.
func load(t *testing.T, ctx context.Context, root, dir string) (*avroschema.Set, error) {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	type result struct {
		set      *avroschema.Set
		err      error
		panicked string
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
			done <- res
		}()
		res.set, res.err = avroschema.Load(ctx, r, dir)
	}()
	select {
	case res := <-done:
		if res.panicked != "" {
			t.Fatalf("panic: %s", res.panicked)
		}
		return res.set, res.err
	case <-time.After(caseTimeout):
		t.Fatalf("%s: no answer within %v", dir, caseTimeout)
		return nil, nil
	}
}

// golden compares got with dir/want.txt, or rewrites it under -update.
func golden(t *testing.T, dir, got string) {
	t.Helper()
	file := filepath.Join(dir, "want.txt")
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
}

// TestBadInputs loads each folder under testdata/bad and compares the
// error with the folder's want.txt. It pins that every bad schema is
// refused with one positioned *diag.Error, never a panic or a hang, and
// that problems the Avro library would let through (a logical type on the
// wrong base, a union default that is not the first branch) are caught.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	const base = "testdata/bad"
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(base, e.Name())
			set, err := load(t, t.Context(), dir, ".")
			if err == nil {
				t.Fatalf("no error; loaded %d records", len(set.Records))
			}
			golden(t, dir, err.Error()+"\n")
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("error is a %T, not a *diag.Error: %v", err, err)
			}
			if !strings.HasSuffix(de.File, ".avsc") || de.Line <= 0 || de.Column <= 0 {
				t.Errorf("error has no file.avsc:line:col (%q:%d:%d): %v", de.File, de.Line, de.Column, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

// TestContracts loads the reservation contract's Avro folder. It pins what
// the generator and the codec rely on: Money, in its own file, is resolved
// by full name; each record's self-contained schema parses alone, with the
// canonical form and the CRC-64-AVRO fingerprint that Load reports (the
// fingerprint checked against the single-object encoding header); and the
// field descriptions carry logical types, decimals, optionality and
// defaults.
func TestContracts(t *testing.T) {
	t.Parallel()
	set, err := load(t, t.Context(), "../../..", "contracts/reservation/v1/avro")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range set.Records {
		names = append(names, r.Name)
	}
	want := []string{"hotel.reservation.v1.Money", "hotel.reservation.v1.ReservationCancelled", "hotel.reservation.v1.ReservationCreated"}
	if !slices.Equal(names, want) {
		t.Fatalf("records %v, want %v", names, want)
	}
	for _, r := range set.Records {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			if r.Doc == "" || r.Namespace != "hotel.reservation.v1" || set.FileRecord(r.File) != r || r.Line != 1 || r.Column != 1 {
				t.Errorf("record %s: doc %q, namespace %q, file %s:%d:%d", r.Name, r.Doc, r.Namespace, r.File, r.Line, r.Column)
			}
			for _, f := range r.Fields {
				if f.Doc == "" || f.Line == 0 {
					t.Errorf("field %s: doc %q at line %d", f.Name, f.Doc, f.Line)
				}
			}
			alone, err := avro.Parse(r.Schema)
			if err != nil {
				t.Fatalf("self-contained schema does not parse alone: %v\n%s", err, r.Schema)
			}
			if got := string(alone.Canonical()); got != r.Canonical {
				t.Errorf("canonical form %s, Load reported %s", got, r.Canonical)
			}
			soe, err := r.Avro.AppendSingleObject(nil, zero(r))
			if err != nil {
				t.Fatal(err)
			}
			fp, _, err := avro.SingleObjectFingerprint(soe)
			if err != nil {
				t.Fatal(err)
			}
			if got := binary.LittleEndian.Uint64(fp[:]); got != r.Fingerprint {
				t.Errorf("fingerprint %x in the single-object header, Load reported %x", got, r.Fingerprint)
			}
		})
	}
	created := set.Record("hotel.reservation.v1.ReservationCreated")
	field := func(r *avroschema.Record, name string) *avroschema.Field {
		for _, f := range r.Fields {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("%s has no field %s", r.Name, name)
		return nil
	}
	if f := field(created, "checkIn"); f.Type.Kind != avroschema.KindInt || f.Type.Logical != "date" {
		t.Errorf("checkIn is %+v, want int date", f.Type)
	}
	if f := field(created, "createdAt"); f.Type.Kind != avroschema.KindLong || f.Type.Logical != "timestamp-millis" {
		t.Errorf("createdAt is %+v, want long timestamp-millis", f.Type)
	}
	if f := field(created, "reservationId"); f.Type.Kind != avroschema.KindString || f.Type.Logical != "uuid" || f.Optional {
		t.Errorf("reservationId is %+v, want a required string uuid", f.Type)
	}
	money := set.Record("hotel.reservation.v1.Money")
	if f := field(created, "totalPrice"); f.Type != money.Type || f.Type.Record != money {
		t.Errorf("totalPrice is %+v, want the Money record of Money.avsc", f.Type)
	}
	if f := field(money, "amount"); f.Type.Kind != avroschema.KindBytes || f.Type.Logical != "decimal" || f.Type.Precision != 12 || f.Type.Scale != 2 {
		t.Errorf("amount is %+v, want bytes decimal(12, 2)", f.Type)
	}
	reason := field(set.Record("hotel.reservation.v1.ReservationCancelled"), "reason")
	if inner, ok := reason.Type.Nullable(); !ok || !reason.Optional || inner.Kind != avroschema.KindString || !reason.HasDefault || reason.Default != nil {
		t.Errorf("reason is %+v, want an optional string defaulting to null", reason)
	}
	if !strings.Contains(created.Schema, `"name":"Money"`) {
		t.Errorf("ReservationCreated's schema does not define Money inline: %s", created.Schema)
	}
}

// zero returns a value of record r for encoding: each field's zero value.
func zero(r *avroschema.Record) map[string]any {
	v := map[string]any{}
	for _, f := range r.Fields {
		t := f.Type
		if f.Optional {
			v[f.Name] = nil
			continue
		}
		switch t.Kind {
		case avroschema.KindInt:
			v[f.Name] = int32(0)
		case avroschema.KindLong:
			v[f.Name] = int64(0)
		case avroschema.KindString:
			v[f.Name] = "00000000-0000-0000-0000-000000000000"
		case avroschema.KindBytes:
			v[f.Name] = "0"
		case avroschema.KindRecord:
			v[f.Name] = zero(t.Record)
		}
	}
	return v
}

// TestGood loads a folder whose files reference each other against name
// order and define named types inline. It pins the walkable description:
// nested records are records of the set with a schema of their own, a
// recursive record leads back to itself, references share one *Type, and
// enums, fixed types, maps, arrays and null-second unions are described.
func TestGood(t *testing.T) {
	t.Parallel()
	set, err := load(t, t.Context(), "testdata", "good")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(set.Files, []string{"good/A.avsc", "good/Z.avsc"}) {
		t.Errorf("files %v", set.Files)
	}
	var names []string
	for _, r := range set.Records {
		names = append(names, r.Name)
	}
	if want := []string{"t.common.Node", "t.v1.Booking", "t.v1.Guest"}; !slices.Equal(names, want) {
		t.Fatalf("records %v, want %v", names, want)
	}
	booking, guest, node := set.Record("t.v1.Booking"), set.Record("t.v1.Guest"), set.Record("t.common.Node")
	if set.FileRecord("good/A.avsc") != booking || set.FileRecord("good/Z.avsc") != node || set.FileRecord("good/README.txt") != nil {
		t.Error("FileRecord does not return the record at the top of each file")
	}
	if guest.File != "good/A.avsc" || guest.Line != 8 || guest.Doc != "A guest." {
		t.Errorf("Guest at %s:%d doc %q", guest.File, guest.Line, guest.Doc)
	}
	s, err := avro.Parse(guest.Schema)
	if err != nil {
		t.Fatalf("Guest's own schema does not parse alone: %v\n%s", err, guest.Schema)
	}
	if string(s.Canonical()) != guest.Canonical || !strings.Contains(guest.Canonical, `"t.common.Tier"`) {
		t.Errorf("Guest canonical form %s", guest.Canonical)
	}
	f := booking.Fields
	if f[0].Type.Kind != avroschema.KindFixed || f[0].Type.Size != 16 || f[0].Type.Logical != "uuid" || f[0].Type.Name != "t.v1.Id" {
		t.Errorf("id %+v", f[0].Type)
	}
	if f[1].Type.Record != guest || f[6].Type.Branches[1] != guest.Type {
		t.Error("the inline Guest and the reference to it are not one type")
	}
	if next := node.Fields[2].Type.Branches[1]; next != node.Type {
		t.Error("Node.next does not lead back to Node")
	}
	tier := set.Named("t.common.Tier")
	if tier == nil || !slices.Equal(tier.Symbols, []string{"BASIC", "GOLD"}) || guest.Fields[1].Type != tier {
		t.Errorf("Tier %+v", tier)
	}
	if tags := f[3].Type; tags.Kind != avroschema.KindMap || tags.Values.Kind != avroschema.KindArray || tags.Values.Items.Kind != avroschema.KindString {
		t.Errorf("tags %+v", tags)
	}
	if b, _ := json.Marshal(f[3].Default); string(b) != `{"a":["b"]}` {
		t.Errorf("tags default %s", b)
	}
	if inner, ok := f[4].Type.Nullable(); !ok || inner.Kind != avroschema.KindString || f[4].Default != "none" {
		t.Errorf("note %+v", f[4])
	}
	if p := f[5].Type; p.Kind != avroschema.KindFixed || p.Precision != 18 || p.Scale != 4 || p.Size != 8 {
		t.Errorf("price %+v", p)
	}
	if night := node.Fields[0]; night.Default != nil || night.HasDefault || night.Type.Logical != "date" {
		t.Errorf("night %+v", night)
	}
}

// TestLoadArguments pins the errors about the folder itself and that a
// canceled context stops the load with the context's error.
func TestLoadArguments(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name, dir string
		ctx       context.Context
		want      string
		is        error
	}{
		{name: "missing folder", dir: "nope", ctx: t.Context(), want: "nope: folder not found; create it, or fix the path to the schema files"},
		{name: "outside", dir: "../x", ctx: t.Context(), want: "../x: the schema folder is outside the workspace: refused; use a workspace-relative folder"},
		{name: "canceled", dir: "good", ctx: canceled, is: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tt.ctx, "testdata", tt.dir)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Errorf("error %v, want %v", err, tt.is)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

// FuzzLoad feeds arbitrary bytes as one .avsc file of a folder that also
// holds a valid schema it may reference. It pins that Load never panics
// and that every failure is a positioned *diag.Error.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/*/*.avsc")
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, "testdata/good/A.avsc")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	z, err := os.ReadFile("testdata/good/Z.avsc")
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Z.avsc"), z, 0o644); err != nil {
		f.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "A.avsc"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := avroschema.Load(t.Context(), root, ".")
		if err == nil {
			for _, r := range set.Records {
				if _, err := avro.Parse(r.Schema); err != nil {
					t.Fatalf("record %s loaded, but its schema does not parse alone: %v", r.Name, err)
				}
			}
			return
		}
		var de *diag.Error
		if !errors.As(err, &de) || de.File == "" || de.Line <= 0 {
			t.Fatalf("error %T without a position: %v", err, err)
		}
	})
}
