package codec

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/avro"
)

// Schema is a parsed Avro record schema with its identity: full name,
// Parsing Canonical Form and CRC-64-AVRO fingerprint. A Schema is immutable
// and safe for concurrent use.
type Schema struct {
	avro      *avro.Schema
	name      string
	canonical string
	fp        uint64
}

// NewSchema parses avsc, a self-contained Avro schema JSON whose top level is
// a record and whose named types are all defined inline. It returns an error
// if avsc is not valid Avro or its top level is not a record.
func NewSchema(avsc string) (*Schema, error) {
	as, err := avro.Parse(avsc)
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	canonical := as.Canonical()
	// The canonical form spells the top-level name in full ([FULLNAMES]),
	// so the record's full name is read from it rather than re-derived
	// from name and namespace attributes.
	var top struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(canonical, &top); err != nil || top.Type != "record" {
		return nil, errors.New("parse avro schema: top level is not a record")
	}
	h := avro.NewRabin()
	h.Write(canonical)
	return &Schema{avro: as, name: top.Name, canonical: string(canonical), fp: h.Sum64()}, nil
}

// MustSchema is like [NewSchema] but panics if avsc is invalid. It exists for
// package-level variables in generated code, whose schemas are checked when
// they are generated; use NewSchema for anything read at run time.
func MustSchema(avsc string) *Schema {
	s, err := NewSchema(avsc)
	if err != nil {
		panic("codec: " + err.Error())
	}
	return s
}

// Avro returns the compiled twmb/avro schema.
func (s *Schema) Avro() *avro.Schema { return s.avro }

// FullName returns the record's full name, namespace included, e.g.
// "hotel.reservation.v1.ReservationCreated". It is the CloudEvents ce_type
// and, by default, the Schema Registry subject.
func (s *Schema) FullName() string { return s.name }

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the Parsing
// Canonical Form: the number the single-object header carries little-endian.
func (s *Schema) Fingerprint() uint64 { return s.fp }

// Canonical returns the Parsing Canonical Form.
func (s *Schema) Canonical() string { return s.canonical }

// String returns the schema JSON as given to [NewSchema], docs and defaults
// included.
func (s *Schema) String() string { return s.avro.String() }

// fingerprintHex formats a fingerprint as the 16 lower-case hex digits used
// for TopicStore keys and ce_dataschema URNs.
func fingerprintHex(fp uint64) string { return fmt.Sprintf("%016x", fp) }
