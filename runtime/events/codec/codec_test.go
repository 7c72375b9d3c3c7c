package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// mode is one wire format under test. Both run every shared test.
type mode struct {
	name string
	// codecs returns two codecs built as a producer process and a consumer
	// process would build them, sharing only a store or a registry.
	codecs func(t *testing.T) (producer, consumer codec.Codec)
	// badMagic and shortHeader are headers the codec must reject with
	// ErrBadHeader; unknown names a schema nobody registered.
	badMagic, shortHeader, unknown []byte
}

func modes() []mode {
	return []mode{
		{
			name: "single-object",
			codecs: func(t *testing.T) (codec.Codec, codec.Codec) {
				store := codec.NewMemoryStore()
				return newSingleObject(t, store), newSingleObject(t, store)
			},
			badMagic:    []byte{0xC3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8},
			shortHeader: []byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7},
			unknown:     []byte{0xC3, 0x01, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01},
		},
		{
			name: "confluent",
			codecs: func(t *testing.T) (codec.Codec, codec.Codec) {
				reg := newRegistry(t)
				return newConfluent(t, reg.URL()), newConfluent(t, reg.URL())
			},
			badMagic:    []byte{0x01, 0, 0, 0, 1},
			shortHeader: []byte{0x00, 0, 0, 1},
			unknown:     []byte{0x00, 0x7f, 0xff, 0xff, 0xf0},
		},
	}
}

func newSingleObject(t testing.TB, store codec.SchemaStore, opts ...codec.Option) *codec.SingleObject {
	t.Helper()
	c, err := codec.NewSingleObject(store, opts...)
	if err != nil {
		t.Fatalf("NewSingleObject: %v", err)
	}
	return c
}

// newRegistry starts franz-go's in-memory Confluent Schema Registry on a
// loopback httptest server.
func newRegistry(t testing.TB) *srfake.Registry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg
}

func newConfluent(t testing.TB, url string, opts ...codec.Option) *codec.Confluent {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatalf("sr.NewClient: %v", err)
	}
	c, err := codec.NewConfluent(cl, opts...)
	if err != nil {
		t.Fatalf("NewConfluent: %v", err)
	}
	return c
}

// TestRoundTrip pins that a value written by one process is read back by
// another unchanged, logical types included (uuid string, date, timestamp-
// millis, decimal money as *big.Rat), behind the header the wire format
// promises.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			producer, consumer := m.codecs(t)
			want := sampleV1()
			prefix := []byte("keep")
			data, err := producer.Encode(t.Context(), prefix, v1, &want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.HasPrefix(data, prefix) {
				t.Fatalf("Encode did not append to dst: % x", data[:8])
			}
			data = data[len(prefix):]
			body, err := v1.Avro().Encode(&want)
			if err != nil {
				t.Fatalf("avro Encode: %v", err)
			}
			header, ok := bytes.CutSuffix(data, body)
			if !ok {
				t.Fatalf("encoded value does not end with the Avro body:\n% x\n% x", data, body)
			}
			ds, err := producer.DataSchema(t.Context(), v1)
			if err != nil {
				t.Fatalf("DataSchema: %v", err)
			}
			switch m.name {
			case "single-object":
				want := binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, v1.Fingerprint())
				if !bytes.Equal(header, want) {
					t.Errorf("header = % x, want % x", header, want)
				}
				if wantDS := "urn:avro:fingerprint:" + hex16(v1.Fingerprint()); ds != wantDS {
					t.Errorf("DataSchema = %q, want %q", ds, wantDS)
				}
			case "confluent":
				if len(header) != 5 || header[0] != 0 {
					t.Fatalf("header = % x, want 00 + 4-byte id", header)
				}
				id := binary.BigEndian.Uint32(header[1:])
				if !strings.HasSuffix(ds, "/schemas/ids/"+itoa(id)) || !strings.HasPrefix(ds, "http://") {
					t.Errorf("DataSchema = %q, want <registry>/schemas/ids/%d", ds, id)
				}
			}
			var got ReservationCreatedV1
			if err := consumer.Decode(t.Context(), data, v1, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			equalV1(t, got, want)
		})
	}
}

// TestEvolution pins schema resolution across versions in both modes: a
// consumer built against v1 reads v2 data without being rebuilt, a v2
// consumer reads v1 data with defaults filled, and writers the reader cannot
// resolve are ErrIncompatible.
func TestEvolution(t *testing.T) {
	t.Parallel()
	v1, v2 := mustSchema(t, createdV1), mustSchema(t, createdV2)
	guestsString, requiredChannel := mustSchema(t, createdGuestsString), mustSchema(t, createdRequiredChannel)
	cancelled := mustSchema(t, cancelledV1)

	sample := sampleV1()
	sampleV2 := ReservationCreatedV2{ReservationCreatedV1: sample, Channel: "app", Coupon: ptr("SPRING")}
	guestsStr := map[string]any{
		"reservation_id": sample.ReservationID, "member_id": sample.MemberID, "room_id": sample.RoomID,
		"hotel_code": sample.HotelCode, "check_in": sample.CheckIn, "check_out": sample.CheckOut,
		"guests": "two", "total": sample.Total, "currency": sample.Currency, "created_at": sample.CreatedAt,
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name           string
				writer, reader *codec.Schema
				in             any
				out            func() any
				check          func(t *testing.T, out any)
				wantErr        error
			}{
				{
					name: "v1 reader, v2 writer", writer: v2, reader: v1, in: &sampleV2,
					out:   func() any { return new(ReservationCreatedV1) },
					check: func(t *testing.T, out any) { equalV1(t, *out.(*ReservationCreatedV1), sample) },
				},
				{
					name: "v2 reader, v1 writer", writer: v1, reader: v2, in: &sample,
					out: func() any { return &ReservationCreatedV2{Channel: "stale", Coupon: ptr("stale")} },
					check: func(t *testing.T, out any) {
						got := out.(*ReservationCreatedV2)
						equalV1(t, got.ReservationCreatedV1, sample)
						if got.Channel != "web" || got.Coupon != nil {
							t.Errorf("channel, coupon = %q, %v; want the defaults \"web\", nil", got.Channel, got.Coupon)
						}
					},
				},
				{
					name: "v2 reader, v2 writer", writer: v2, reader: v2, in: &sampleV2,
					out: func() any { return new(ReservationCreatedV2) },
					check: func(t *testing.T, out any) {
						got := out.(*ReservationCreatedV2)
						equalV1(t, got.ReservationCreatedV1, sample)
						if got.Channel != "app" || got.Coupon == nil || *got.Coupon != "SPRING" {
							t.Errorf("channel, coupon = %q, %v", got.Channel, got.Coupon)
						}
					},
				},
				{
					name: "changed field type", writer: guestsString, reader: v1, in: guestsStr,
					out: func() any { return new(ReservationCreatedV1) }, wantErr: codec.ErrIncompatible,
				},
				{
					name: "new reader field without default", writer: v1, reader: requiredChannel, in: &sample,
					out: func() any { return new(ReservationCreatedV2) }, wantErr: codec.ErrIncompatible,
				},
				{
					name: "other record", writer: cancelled, reader: v1,
					in:  &ReservationCancelledV1{ReservationID: sample.ReservationID, Reason: "duplicate"},
					out: func() any { return new(ReservationCreatedV1) }, wantErr: codec.ErrIncompatible,
				},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					producer, consumer := m.codecs(t)
					data, err := producer.Encode(t.Context(), nil, tc.writer, tc.in)
					if err != nil {
						t.Fatalf("Encode: %v", err)
					}
					// Twice: the second decode runs from the resolved-pair
					// cache and must give the same answer.
					for range 2 {
						out := tc.out()
						err = consumer.Decode(t.Context(), data, tc.reader, out)
						if tc.wantErr != nil {
							if !errors.Is(err, tc.wantErr) {
								t.Fatalf("Decode error = %v, want %v", err, tc.wantErr)
							}
							continue
						}
						if err != nil {
							t.Fatalf("Decode: %v", err)
						}
						tc.check(t, out)
					}
				})
			}
		})
	}
}

// hostileCase is crafted input: a header choice and a body.
type hostileCase struct {
	name    string
	header  func(m mode, valid []byte) []byte
	body    []byte
	wantErr error
}

func validHeader(_ mode, valid []byte) []byte { return valid }

// varint is Avro's zig-zag varint, which is encoding/binary's Varint.
func varint(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// hostileCases are bodies and headers that must each fail with the named
// error: never a panic, a hang, or an allocation sized by a claimed length.
// A valid Probe{} body is 00 00 00 00 00: empty string, empty array, empty
// map, null union branch, empty array of null.
func hostileCases() []hostileCase {
	empty := []byte{0}
	return []hostileCase{
		{"empty data", func(mode, []byte) []byte { return nil }, nil, codec.ErrBadHeader},
		{"wrong magic", func(m mode, _ []byte) []byte { return m.badMagic }, varint(0, 0, 0, 0, 0), codec.ErrBadHeader},
		{"truncated header", func(m mode, _ []byte) []byte { return m.shortHeader }, nil, codec.ErrBadHeader},
		{"unknown schema", func(m mode, _ []byte) []byte { return m.unknown }, varint(0, 0, 0, 0, 0), codec.ErrUnknownSchema},
		{"header only", validHeader, nil, codec.ErrMalformed},
		{"truncated body", validHeader, varint(0, 0, 0), codec.ErrMalformed},
		{"trailing garbage", validHeader, varint(0, 0, 0, 0, 0, 0), codec.ErrMalformed},
		{"string length 2^62", validHeader, varint(1 << 62), codec.ErrMalformed},
		{"negative string length", validHeader, varint(-1), codec.ErrMalformed},
		{"overlong varint", validHeader, bytes.Repeat([]byte{0xff}, 11), codec.ErrMalformed},
		{"array count near MaxInt64", validHeader, cat(empty, varint(math.MaxInt64), varint(1, 2, 3)), codec.ErrMalformed},
		{"array count MinInt64", validHeader, cat(empty, varint(math.MinInt64, 8), varint(1, 2, 3)), codec.ErrMalformed},
		// A negative count announces a block byte size, which decoding (unlike
		// skipping) ignores, as Java does; the items must still be there.
		{"negative block count, items missing", validHeader, cat(empty, varint(-3, 2, 7)), codec.ErrMalformed},
		{"map claiming millions of entries", validHeader, cat(empty, empty, varint(5_000_000), []byte{2, 'k', 2, 'v'}), codec.ErrMalformed},
		{"map key length 2^62", validHeader, cat(empty, empty, varint(1, 1<<62)), codec.ErrMalformed},
		{"union index out of range", validHeader, cat(empty, empty, empty, varint(5), empty), codec.ErrMalformed},
		{"negative union index", validHeader, cat(empty, empty, empty, varint(-1), empty), codec.ErrMalformed},
		{"array of null claiming 2^40 items", validHeader, cat(empty, empty, empty, empty, varint(1<<40), empty), codec.ErrMalformed},
	}
}

// probeHeader encodes a Probe with producer and returns the header it wrote,
// which names the probe schema (registered or Put on the way).
func probeHeader(t testing.TB, producer codec.Codec, s *codec.Schema) []byte {
	t.Helper()
	data, err := producer.Encode(t.Context(), nil, s, &Probe{})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	header, ok := bytes.CutSuffix(data, []byte{0, 0, 0, 0, 0})
	if !ok {
		t.Fatalf("Probe{} did not encode to a header and 00 00 00 00 00: % x", data)
	}
	return header
}

// TestBadPayload pins that every crafted hostile input fails with the
// documented error class in both modes, without panicking or hanging.
func TestBadPayload(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, probe)
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			producer, consumer := m.codecs(t)
			header := probeHeader(t, producer, s)
			var out Probe
			if err := consumer.Decode(t.Context(), append(header, 0, 0, 0, 0, 0), s, &out); err != nil {
				t.Fatalf("valid Probe does not decode, so the table proves nothing: %v", err)
			}
			for _, tc := range hostileCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					data := cat(tc.header(m, header), tc.body)
					var out Probe
					err := consumer.Decode(t.Context(), data, s, &out)
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Decode(% x) error = %v, want %v", data, err, tc.wantErr)
					}
				})
			}
		})
	}
}

// TestHostileAllocation pins that no crafted length makes the decoder
// allocate in proportion to what it claims: every case stays under 1 MiB.
// It is not parallel because it reads process-wide allocation counters.
func TestHostileAllocation(t *testing.T) {
	s := mustSchema(t, probe)
	c := newSingleObject(t, codec.NewMemoryStore())
	header := probeHeader(t, c, s)
	for _, tc := range hostileCases() {
		data := cat(tc.header(modes()[0], header), tc.body)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			var out Probe
			_ = c.Decode(t.Context(), data, s, &out)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: 10 decodes allocated %d bytes", tc.name, n)
		}
	}
}

// TestEncodeErrors pins that bad values are errors, never panics, and that a
// failed Encode leaves dst as it was.
func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	thirds := sampleV1()
	thirds.Total = big.NewRat(1, 3) // no exact two-decimal form
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			producer, _ := m.codecs(t)
			for _, tc := range []struct {
				name string
				s    *codec.Schema
				v    any
			}{
				{"nil schema", nil, &ReservationCreatedV1{}},
				{"wrong Go type", v1, &ReservationCancelledV1{}},
				{"nil value", v1, nil},
				{"decimal with more digits than the scale", v1, &thirds},
			} {
				dst := []byte("prefix")
				got, err := producer.Encode(t.Context(), dst, tc.s, tc.v)
				if err == nil {
					t.Errorf("%s: Encode succeeded", tc.name)
				}
				if string(got) != "prefix" {
					t.Errorf("%s: Encode returned % x, want dst unchanged", tc.name, got)
				}
			}
			if _, err := producer.DataSchema(t.Context(), nil); err == nil {
				t.Error("DataSchema(nil) succeeded")
			}
		})
	}
}

// TestDecodeArgs pins that caller mistakes are reported as such, not as
// malformed data.
func TestDecodeArgs(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			producer, consumer := m.codecs(t)
			data, err := producer.Encode(t.Context(), nil, v1, ptr(sampleV1()))
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var typedNil *ReservationCreatedV1
			for _, tc := range []struct {
				name   string
				reader *codec.Schema
				out    any
			}{
				{"nil reader", nil, new(ReservationCreatedV1)},
				{"nil out", v1, nil},
				{"typed nil out", v1, typedNil},
				{"non-pointer out", v1, ReservationCreatedV1{}},
			} {
				err := consumer.Decode(t.Context(), data, tc.reader, tc.out)
				if err == nil || errors.Is(err, codec.ErrMalformed) {
					t.Errorf("%s: Decode error = %v, want a non-ErrMalformed error", tc.name, err)
				}
			}
		})
	}
}

// TestConfluentCaching pins that the registry is asked once per schema and
// once per id, not once per record.
func TestConfluentCaching(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	reg := newRegistry(t)
	var registers, lookups atomic.Int32
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions"):
			registers.Add(1)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/"):
			lookups.Add(1)
		}
		return false
	})
	producer, consumer := newConfluent(t, reg.URL()), newConfluent(t, reg.URL())
	in := sampleV1()
	for range 20 {
		data, err := producer.Encode(t.Context(), nil, v1, &in)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		var out ReservationCreatedV1
		if err := consumer.Decode(t.Context(), data, v1, &out); err != nil {
			t.Fatalf("Decode: %v", err)
		}
	}
	if _, err := producer.DataSchema(t.Context(), v1); err != nil {
		t.Fatalf("DataSchema: %v", err)
	}
	if r, l := registers.Load(), lookups.Load(); r != 1 || l != 1 {
		t.Errorf("registry saw %d registrations and %d id lookups for 20 records, want 1 and 1", r, l)
	}
	if !reg.SubjectExists(v1.FullName()) {
		t.Errorf("subject %q (RecordNameStrategy) not registered", v1.FullName())
	}
}

// TestConfluentRegistryFailures pins how registry answers map to errors: an
// unregistered schema with auto-registration off is ErrUnknownSchema; a
// server error is returned as is (retryable, not ErrUnknownSchema) and is
// not cached.
func TestConfluentRegistryFailures(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	in := sampleV1()

	t.Run("lookup only", func(t *testing.T) {
		t.Parallel()
		reg := newRegistry(t)
		c := newConfluent(t, reg.URL(), codec.WithAutoRegister(false))
		if _, err := c.Encode(t.Context(), nil, v1, &in); !errors.Is(err, codec.ErrUnknownSchema) {
			t.Fatalf("Encode of an unregistered schema: error = %v, want ErrUnknownSchema", err)
		}
		if _, _, err := reg.RegisterSchema(v1.FullName(), sr.Schema{Schema: v1.String()}); err != nil {
			t.Fatalf("RegisterSchema: %v", err)
		}
		if _, err := c.Encode(t.Context(), nil, v1, &in); err != nil {
			t.Fatalf("Encode after registration: %v", err)
		}
	})

	t.Run("server error", func(t *testing.T) {
		t.Parallel()
		reg := newRegistry(t)
		var failing atomic.Bool
		failing.Store(true)
		reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
			if failing.Load() {
				http.Error(w, `{"error_code":50001,"message":"store down"}`, http.StatusInternalServerError)
				return true
			}
			return false
		})
		producer, consumer := newConfluent(t, reg.URL()), newConfluent(t, reg.URL())
		if _, err := producer.Encode(t.Context(), nil, v1, &in); err == nil || errors.Is(err, codec.ErrUnknownSchema) {
			t.Fatalf("Encode with the registry failing: error = %v, want a server error", err)
		}
		failing.Store(false)
		data, err := producer.Encode(t.Context(), nil, v1, &in)
		if err != nil {
			t.Fatalf("Encode after recovery: %v", err)
		}
		failing.Store(true)
		var out ReservationCreatedV1
		if err := consumer.Decode(t.Context(), data, v1, &out); err == nil || errors.Is(err, codec.ErrUnknownSchema) {
			t.Fatalf("Decode with the registry failing: error = %v, want a server error", err)
		}
		failing.Store(false)
		if err := consumer.Decode(t.Context(), data, v1, &out); err != nil {
			t.Fatalf("Decode after recovery: %v", err)
		}
	})

	t.Run("not avro", func(t *testing.T) {
		t.Parallel()
		reg := newRegistry(t)
		reg.SeedSchema("other", 1, 7, sr.Schema{Schema: `{"type":"object"}`, Type: sr.TypeJSON})
		c := newConfluent(t, reg.URL())
		var out ReservationCreatedV1
		err := c.Decode(t.Context(), []byte{0, 0, 0, 0, 7, 0}, v1, &out)
		if !errors.Is(err, codec.ErrUnknownSchema) {
			t.Fatalf("Decode of a JSON-schema id: error = %v, want ErrUnknownSchema", err)
		}
	})
}

// TestConfluentOptions pins the subject strategy and data-schema URL
// options.
func TestConfluentOptions(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	reg := newRegistry(t)
	c := newConfluent(t, reg.URL(),
		codec.WithSubjectNameStrategy(func(s *codec.Schema) string { return "reservations-" + s.FullName() }),
		codec.WithDataSchemaURL("https://registry.example.com/"))
	ds, err := c.DataSchema(t.Context(), v1)
	if err != nil {
		t.Fatalf("DataSchema: %v", err)
	}
	if !strings.HasPrefix(ds, "https://registry.example.com/schemas/ids/") {
		t.Errorf("DataSchema = %q, want https://registry.example.com/schemas/ids/<id>", ds)
	}
	if !reg.SubjectExists("reservations-" + v1.FullName()) {
		t.Error("subject from WithSubjectNameStrategy not registered")
	}
}

// TestConfluentSubjects pins EncodeSubject: one schema encoded at once
// under two given subjects and under none is registered under each given
// subject and, for none, under the one WithSubjectNameStrategy names; the
// framed id decodes; a codec without subjects (single-object) ignores the
// subject.
func TestConfluentSubjects(t *testing.T) {
	t.Parallel()
	v1 := mustSchema(t, createdV1)
	reg := newRegistry(t)
	c := newConfluent(t, reg.URL(), codec.WithSubjectNameStrategy(func(s *codec.Schema) string { return "by-strategy-" + s.FullName() }))
	subjects := []string{"a.events-value", "b.events-" + v1.FullName(), ""}
	var wg sync.WaitGroup
	out := make([][]byte, len(subjects))
	errs := make([]error, len(subjects))
	for i, subject := range subjects {
		wg.Go(func() { out[i], errs[i] = codec.EncodeSubject(t.Context(), c, nil, v1, subject, sampleV1()) })
	}
	wg.Wait()
	for i, subject := range subjects {
		if errs[i] != nil {
			t.Fatalf("EncodeSubject %q: %v", subject, errs[i])
		}
		if subject == "" {
			subject = "by-strategy-" + v1.FullName()
		}
		if !reg.SubjectExists(subject) {
			t.Errorf("subject %q not registered", subject)
		}
		var got ReservationCreatedV1
		if err := c.Decode(t.Context(), out[i], v1, &got); err != nil {
			t.Errorf("decode the value encoded under %q: %v", subject, err)
		}
	}
	if reg.SubjectExists(v1.FullName()) {
		t.Errorf("registered under %s, which neither a subject nor the strategy names", v1.FullName())
	}
	so := newSingleObject(t, codec.NewMemoryStore())
	a, err := codec.EncodeSubject(t.Context(), so, nil, v1, "a.events-value", sampleV1())
	if err != nil {
		t.Fatal(err)
	}
	b, err := so.Encode(t.Context(), nil, v1, sampleV1())
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("single-object EncodeSubject % x, Encode % x, %v: want the same bytes", a, b, err)
	}
}

// TestConfluentDataSchemaWithoutLogin pins that a login given in the
// registry client's URL is not copied into ce_dataschema.
func TestConfluentDataSchemaWithoutLogin(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	c := newConfluent(t, strings.Replace(reg.URL(), "http://", "http://svc:s3cret@", 1))
	ds, err := c.DataSchema(t.Context(), mustSchema(t, createdV1))
	if err != nil {
		t.Fatalf("DataSchema: %v", err)
	}
	if strings.Contains(ds, "s3cret") || !strings.HasPrefix(ds, reg.URL()+"/schemas/ids/") {
		t.Errorf("DataSchema = %q, want %s/schemas/ids/<id> without the login", ds, reg.URL())
	}
}

// TestNewCodecValidation pins that constructors reject bad arguments with
// errors instead of panicking or ignoring them.
func TestNewCodecValidation(t *testing.T) {
	t.Parallel()
	cl, err := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	store := codec.NewMemoryStore()
	for _, tc := range []struct {
		name string
		new  func() error
	}{
		{"single-object nil store", func() error { _, err := codec.NewSingleObject(nil); return err }},
		{"single-object zero cache", func() error { _, err := codec.NewSingleObject(store, codec.WithResolveCacheSize(0)); return err }},
		{"single-object given a Confluent option", func() error {
			_, err := codec.NewSingleObject(store, codec.WithAutoRegister(false))
			return err
		}},
		{"single-object zero Option", func() error { _, err := codec.NewSingleObject(store, codec.Option{}); return err }},
		{"confluent nil client", func() error { _, err := codec.NewConfluent(nil); return err }},
		{"confluent nil strategy", func() error { _, err := codec.NewConfluent(cl, codec.WithSubjectNameStrategy(nil)); return err }},
		{"confluent data-schema URL with a login", func() error {
			_, err := codec.NewConfluent(cl, codec.WithDataSchemaURL("https://u:p@registry.example.com"))
			return err
		}},
		{"confluent relative data-schema URL", func() error {
			_, err := codec.NewConfluent(cl, codec.WithDataSchemaURL("/schemas"))
			return err
		}},
	} {
		if err := tc.new(); err == nil {
			t.Errorf("%s: constructor succeeded", tc.name)
		}
	}
}

// TestResolveCacheBounded pins that a cache of one resolved pair still
// decodes every writer correctly as pairs are evicted.
func TestResolveCacheBounded(t *testing.T) {
	t.Parallel()
	v1, v2 := mustSchema(t, createdV1), mustSchema(t, createdV2)
	store := codec.NewMemoryStore()
	producer := newSingleObject(t, store)
	consumer := newSingleObject(t, store, codec.WithResolveCacheSize(1))
	sample := sampleV1()
	dataV1, err := producer.Encode(t.Context(), nil, v1, &sample)
	if err != nil {
		t.Fatal(err)
	}
	dataV2, err := producer.Encode(t.Context(), nil, v2, &ReservationCreatedV2{ReservationCreatedV1: sample, Channel: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		// Readers v1 and v2 each need one resolved pair; alternating them
		// through a one-entry cache evicts on every step.
		reader, data := v1, dataV2
		if i%2 == 1 {
			reader, data = v2, dataV1
		}
		var out ReservationCreatedV2
		if err := consumer.Decode(t.Context(), data, reader, &out); err != nil {
			t.Fatalf("Decode %d: %v", i, err)
		}
		equalV1(t, out.ReservationCreatedV1, sample)
	}
}

// avroFingerprintMatchesHeader is a sanity check that the fingerprint we
// expose is the one twmb/avro writes in single-object headers.
func TestFingerprintMatchesAvroHeader(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, createdV1)
	data, err := s.Avro().AppendSingleObject(nil, ptr(sampleV1()))
	if err != nil {
		t.Fatal(err)
	}
	fp, _, err := avro.SingleObjectFingerprint(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(fp[:]); got != s.Fingerprint() {
		t.Errorf("header fingerprint %016x, Schema.Fingerprint %016x", got, s.Fingerprint())
	}
}
