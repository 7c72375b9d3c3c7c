package events_test

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestTypeSubjects pins that a Type's Subject and KeySubject, which
// generated code sets to the subjects the breaking gate checks, are the
// Schema Registry subjects a Confluent producer registers the value and
// the Avro record key under: the value's header carries the id registered
// under Subject, ce_dataschema names it, EncodeKey frames the key with the
// id under KeySubject, and nothing is registered under the record-name
// subjects. A Type without subjects (hand-written) keeps the codec's
// strategy, RecordNameStrategy by default.
func TestTypeSubjects(t *testing.T) {
	t.Parallel()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	must(t, err)
	c, err := codec.NewConfluent(cl)
	must(t, err)
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	p := newProducer(t, b, c)
	keySchema := mustSchema(t, shardKeyV1)

	typ := orderType(orderTopic) // as generated: TopicNameStrategy subjects
	typ.Subject, typ.KeySubject = orderTopic+"-value", orderTopic+"-key"
	key, err := events.EncodeKey(t.Context(), p, keySchema, typ.KeySubject, &ShardKey{Tenant: "t1", ID: 1})
	must(t, err)
	typ.Key = func(*OrderPlaced) string { return key }
	evt := &OrderPlaced{OrderID: "o1", Seq: 1, Amount: 7}
	must(t, events.Publish(t.Context(), p, typ, evt))
	rec, err := events.NewRecord(t.Context(), p, typ, evt)
	must(t, err)

	idUnder := func(subject string) int {
		t.Helper()
		ss, err := cl.SchemaByVersion(t.Context(), subject, -1)
		if err != nil {
			t.Fatalf("subject %s: %v", subject, err)
		}
		return ss.ID
	}
	if got, want := int(binary.BigEndian.Uint32(rec.Value[1:5])), idUnder(typ.Subject); got != want {
		t.Errorf("the value is framed with id %d, want %d, the id under %s", got, want, typ.Subject)
	}
	if got, want := int(binary.BigEndian.Uint32([]byte(key)[1:5])), idUnder(typ.KeySubject); got != want {
		t.Errorf("the key is framed with id %d, want %d, the id under %s", got, want, typ.KeySubject)
	}
	for _, h := range rec.Headers {
		if h.Key == events.HeaderDataSchema && !strings.HasSuffix(string(h.Value), "/schemas/ids/"+strconv.Itoa(idUnder(typ.Subject))) {
			t.Errorf("ce_dataschema %s does not name the id under %s", h.Value, typ.Subject)
		}
	}
	subjects, err := cl.Subjects(t.Context())
	must(t, err)
	if want := []string{orderTopic + "-key", orderTopic + "-value"}; !slices.Equal(subjects, want) {
		t.Errorf("registered subjects %v, want %v", subjects, want)
	}

	// A hand-written type without a subject: the codec's strategy.
	must(t, events.Publish(t.Context(), p, orderType(orderTopic), evt))
	if !reg.SubjectExists(orderSchemaV1.FullName()) {
		t.Errorf("a type without a Subject is not registered under %s (RecordNameStrategy)", orderSchemaV1.FullName())
	}
}

// TestTypeSubjectAllocs pins that a Type's Subject adds no allocation to
// NewRecord with a Confluent codec once the schema is registered under it
// (the ids and ce_dataschema are cached by schema and subject). It is not
// parallel: testing.AllocsPerRun refuses parallel tests.
func TestTypeSubjectAllocs(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	p := newProducer(t, newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1}), confluentCodec(t, reg.URL()))
	evt := &OrderPlaced{OrderID: "o1", Seq: 1, Amount: 7}
	typ := orderType(orderTopic)
	typ.Subject = orderTopic + "-value"
	plain := orderType(orderTopic)
	allocs := func(typ events.Type[OrderPlaced]) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := events.NewRecord(t.Context(), p, typ, evt); err != nil {
				t.Fatal(err)
			}
		})
	}
	if with, without := allocs(typ), allocs(plain); with > without {
		t.Errorf("NewRecord allocates %.1f times with a Subject, %.1f without", with, without)
	}
}
