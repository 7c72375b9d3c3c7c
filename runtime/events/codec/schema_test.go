package codec_test

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

func hex16(fp uint64) string { return fmt.Sprintf("%016x", fp) }
func itoa(id uint32) string  { return strconv.FormatUint(uint64(id), 10) }

// TestNewSchema pins the identity a Schema reports: the full name however
// the namespace is spelled, the canonical form, and a fingerprint equal to
// twmb/avro's CRC-64-AVRO of that form.
func TestNewSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, avsc, fullName string
	}{
		{"namespace attribute", createdV1, "hotel.reservation.v1.ReservationCreated"},
		{"dotted name", `{"type":"record","name":"a.b.C","fields":[]}`, "a.b.C"},
		{"dotted name wins over namespace", `{"type":"record","name":"a.b.C","namespace":"x.y","fields":[]}`, "a.b.C"},
		{"null namespace", `{"type":"record","name":"C","fields":[{"name":"f","type":"int"}]}`, "C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := codec.NewSchema(tc.avsc)
			if err != nil {
				t.Fatalf("NewSchema: %v", err)
			}
			if s.FullName() != tc.fullName {
				t.Errorf("FullName = %q, want %q", s.FullName(), tc.fullName)
			}
			if s.String() != tc.avsc {
				t.Errorf("String = %q, want the input", s.String())
			}
			if s.Canonical() != string(s.Avro().Canonical()) {
				t.Errorf("Canonical = %q, want %q", s.Canonical(), s.Avro().Canonical())
			}
			if got := binary.BigEndian.Uint64(s.Avro().Fingerprint(avro.NewRabin())); got != s.Fingerprint() {
				t.Errorf("Fingerprint = %016x, twmb/avro says %016x", s.Fingerprint(), got)
			}
		})
	}
}

// TestFingerprintIgnoresDocsAndDefaults pins that fingerprints follow the
// Parsing Canonical Form: docs and defaults do not change them, a new field
// does. Writers are identified by fingerprint, so this decides when a
// consumer must look a schema up.
func TestFingerprintIgnoresDocsAndDefaults(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	redoc := mustSchema(t, strings.Replace(createdV1, "A reservation was accepted.", "Reworded.", 1))
	v2 := mustSchema(t, createdV2)
	if redoc.Fingerprint() != v1.Fingerprint() {
		t.Error("changing a doc changed the fingerprint")
	}
	if v2.Fingerprint() == v1.Fingerprint() {
		t.Error("adding fields did not change the fingerprint")
	}
}

// TestNewSchemaErrors pins that bad schemas are errors, never panics, and
// that MustSchema panics on them.
func TestNewSchemaErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, avsc string }{
		{"empty", ""},
		{"not JSON", "{"},
		{"primitive", `"string"`},
		{"enum", `{"type":"enum","name":"E","symbols":["A"]}`},
		{"union", `["null","string"]`},
		{"undefined named type", `{"type":"record","name":"R","fields":[{"name":"f","type":"Missing"}]}`},
		{"bad default", `{"type":"record","name":"R","fields":[{"name":"f","type":"int","default":"x"}]}`},
		{"deep nesting", strings.Repeat(`{"type":"array","items":`, 5000) + `"int"` + strings.Repeat("}", 5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := codec.NewSchema(tc.avsc); err == nil {
				t.Fatal("NewSchema succeeded")
			}
			defer func() {
				if recover() == nil {
					t.Error("MustSchema did not panic")
				}
			}()
			codec.MustSchema(tc.avsc)
		})
	}
}
