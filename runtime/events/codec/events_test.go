package codec_test

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// The fixtures below are a realistic event in three versions: v1, a
// forward- and backward-compatible v2 (a field with a default and a new
// optional field), and changes that break resolution.

const createdV1 = `{
  "type": "record", "name": "ReservationCreated", "namespace": "hotel.reservation.v1",
  "doc": "A reservation was accepted.",
  "fields": [
    {"name": "reservation_id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "member_id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "room_id", "type": "string"},
    {"name": "hotel_code", "type": "string"},
    {"name": "check_in", "type": {"type": "int", "logicalType": "date"}},
    {"name": "check_out", "type": {"type": "int", "logicalType": "date"}},
    {"name": "guests", "type": "int"},
    {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "currency", "type": "string"},
    {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "note", "type": ["null", "string"], "default": null}
  ]
}`

// createdV2 adds a field with a default and a new optional field.
var createdV2 = strings.Replace(createdV1, `{"name": "note", "type": ["null", "string"], "default": null}`,
	`{"name": "note", "type": ["null", "string"], "default": null},
    {"name": "channel", "type": "string", "default": "web"},
    {"name": "coupon", "type": ["null", "string"], "default": null}`, 1)

// createdGuestsString changes a field's type: int data cannot be read as a
// string, nor the reverse.
var createdGuestsString = strings.Replace(createdV1, `{"name": "guests", "type": "int"}`,
	`{"name": "guests", "type": "string"}`, 1)

// createdRequiredChannel adds a field without a default: a reader of it
// cannot read v1 data.
var createdRequiredChannel = strings.Replace(createdV1, `{"name": "note", "type": ["null", "string"], "default": null}`,
	`{"name": "note", "type": ["null", "string"], "default": null},
    {"name": "channel", "type": "string"}`, 1)

const cancelledV1 = `{
  "type": "record", "name": "ReservationCancelled", "namespace": "hotel.reservation.v1",
  "fields": [
    {"name": "reservation_id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "reason", "type": "string"}
  ]
}`

// probe is a schema for crafting hostile bodies: each field is one of the
// length- or index-carrying shapes the decoder must bound.
const probe = `{
  "type": "record", "name": "Probe", "namespace": "codec.test",
  "fields": [
    {"name": "s", "type": "string"},
    {"name": "a", "type": {"type": "array", "items": "long"}},
    {"name": "m", "type": {"type": "map", "values": "string"}},
    {"name": "u", "type": ["null", "string"]},
    {"name": "n", "type": {"type": "array", "items": "null"}}
  ]
}`

type Probe struct {
	S string            `avro:"s"`
	A []int64           `avro:"a"`
	M map[string]string `avro:"m"`
	U *string           `avro:"u"`
	N []any             `avro:"n"`
}

// ReservationCreatedV1 uses the Go types the package doc recommends for
// logical types.
type ReservationCreatedV1 struct {
	ReservationID string    `avro:"reservation_id" json:"reservation_id"`
	MemberID      string    `avro:"member_id" json:"member_id"`
	RoomID        string    `avro:"room_id" json:"room_id"`
	HotelCode     string    `avro:"hotel_code" json:"hotel_code"`
	CheckIn       time.Time `avro:"check_in" json:"check_in"`
	CheckOut      time.Time `avro:"check_out" json:"check_out"`
	Guests        int32     `avro:"guests" json:"guests"`
	Total         *big.Rat  `avro:"total" json:"total"`
	Currency      string    `avro:"currency" json:"currency"`
	CreatedAt     time.Time `avro:"created_at" json:"created_at"`
	Note          *string   `avro:"note" json:"note"`
}

type ReservationCreatedV2 struct {
	ReservationCreatedV1
	Channel string  `avro:"channel"`
	Coupon  *string `avro:"coupon"`
}

type ReservationCancelledV1 struct {
	ReservationID string `avro:"reservation_id"`
	Reason        string `avro:"reason"`
}

func mustSchema(t testing.TB, avsc string) *codec.Schema {
	t.Helper()
	s, err := codec.NewSchema(avsc)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// sampleV1 returns a v1 event whose values are exactly representable in the
// schema (dates at midnight, timestamps in whole milliseconds, money with two
// decimals), so a round trip must return them unchanged.
func sampleV1() ReservationCreatedV1 {
	return ReservationCreatedV1{
		ReservationID: "0b6b1a56-2f1f-4c59-9a86-1f0b8f3f5c11",
		MemberID:      "5d0c6f0e-7e2a-4a55-8f57-0c1f2d3e4f50",
		RoomID:        "R-1204",
		HotelCode:     "TYO-SHINJUKU",
		CheckIn:       time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		CheckOut:      time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC),
		Guests:        2,
		Total:         big.NewRat(4560050, 100), // 45600.50
		Currency:      "JPY",
		CreatedAt:     time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC),
		Note:          ptr("late arrival"),
	}
}

// equalV1 compares v1 events field by field, with time and decimal equality.
func equalV1(t *testing.T, got, want ReservationCreatedV1) {
	t.Helper()
	if got.ReservationID != want.ReservationID || got.MemberID != want.MemberID || got.RoomID != want.RoomID ||
		got.HotelCode != want.HotelCode || got.Guests != want.Guests || got.Currency != want.Currency {
		t.Errorf("scalar fields = %+v, want %+v", got, want)
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{{"check_in", got.CheckIn, want.CheckIn}, {"check_out", got.CheckOut, want.CheckOut}, {"created_at", got.CreatedAt, want.CreatedAt}} {
		if !c.got.Equal(c.want) || c.got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v (UTC)", c.name, c.got, c.want)
		}
	}
	if got.Total == nil || got.Total.Cmp(want.Total) != 0 {
		t.Errorf("total = %v, want %v", got.Total, want.Total)
	}
	if (got.Note == nil) != (want.Note == nil) || (got.Note != nil && *got.Note != *want.Note) {
		t.Errorf("note = %v, want %v", got.Note, want.Note)
	}
}
