package generator_test

import (
	"bytes"
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	kindsv1 "github.com/keiyaku/keiyaku/tools/internal/generator/internal/kindsv1"
)

// kindsHandler records the events and record keys the generated consumer
// of testdata/kinds hands it.
type kindsHandler struct {
	mu   sync.Mutex
	got  map[string]any    // by topic
	keys map[string][]byte // by topic
	ids  map[string]string // event ids, by topic
	// shard is the record key of the record-key event, read by the
	// handler with env.DecodeKey.
	shard    kindsv1.ShardKey
	shardErr error
	done     chan struct{}
}

func (h *kindsHandler) add(env events.Envelope, evt any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.got[env.Topic]; dup {
		return nil
	}
	h.got[env.Topic], h.keys[env.Topic] = evt, env.Key
	if len(h.got) == len(kindsv1.ReceivedTopics) {
		close(h.done)
	}
	return nil
}

func (h *kindsHandler) OnKinds(_ context.Context, env events.Envelope, evt *kindsv1.FieldKeyed) error {
	return h.add(env, evt)
}

func (h *kindsHandler) OnNoKey(_ context.Context, env events.Envelope, evt *kindsv1.UserSignedUp) error {
	return h.add(env, evt)
}

func (h *kindsHandler) OnStringKey(_ context.Context, env events.Envelope, evt *kindsv1.StringKeyed) error {
	return h.add(env, evt)
}

func (h *kindsHandler) OnIntKey(_ context.Context, env events.Envelope, evt *kindsv1.IntKeyed) error {
	return h.add(env, evt)
}

func (h *kindsHandler) OnRecordKey(ctx context.Context, env events.Envelope, evt *kindsv1.RecordKeyed) error {
	var k kindsv1.ShardKey
	err := env.DecodeKey(ctx, kindsv1.ShardKeySchema, &k)
	h.mu.Lock()
	h.shard, h.shardErr = k, err
	h.mu.Unlock()
	return h.add(env, evt)
}

func (h *kindsHandler) OnHeaderKey(_ context.Context, env events.Envelope, evt *kindsv1.HeaderKeyed) error {
	h.mu.Lock()
	h.ids[env.Topic] = env.ID
	h.mu.Unlock()
	return h.add(env, evt)
}

func (h *kindsHandler) OnUnions(_ context.Context, env events.Envelope, evt *kindsv1.Shaped) error {
	return h.add(env, evt)
}

func (h *kindsHandler) OnLongKey(_ context.Context, env events.Envelope, evt *kindsv1.LongKeyed) error {
	return h.add(env, evt)
}

// TestKindsRoundTrip sends one event of each key kind through the
// generated Publisher of testdata/kinds to a Kafka-protocol broker (kfake,
// its topics created from the generated TopicPartitions) and reads them
// back with the generated consumer: the payloads (inline Avro, a .json
// schema, a recursive record with a top-level enum) arrive intact and the
// record keys are the payload field, the string, the big-endian int and
// long, an Avro record (single-object encoded by the producer's codec, read
// back with env.DecodeKey), the event id header, and
// no key at all.
func TestKindsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	producer, consumer, c := roundTripClients(t, kindsv1.TopicPartitions, "/services/kinds", kindsv1.ConsumerGroup, kindsv1.ReceivedTopics)
	h := &kindsHandler{got: map[string]any{}, keys: map[string][]byte{}, ids: map[string]string{}, done: make(chan struct{})}
	kindsv1.RegisterEventHandler(consumer, h)
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- consumer.Run(runCtx) }()

	pub := kindsv1.NewPublisher(producer)
	field := &kindsv1.FieldKeyed{ID: "agg-1", Colour: kindsv1.ColourBlue, Next: &kindsv1.FieldKeyed{ID: "agg-0", Colour: kindsv1.ColourRed}}
	if err := pub.PublishFieldKeyed(ctx, field); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishUserSignedUp(ctx, &kindsv1.UserSignedUp{UserID: 7, UserEmail: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishStringKeyed(ctx, "k-1", &kindsv1.StringKeyed{Note: "n"}); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishIntKeyed(ctx, 258, &kindsv1.IntKeyed{Count: 3}); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishLongKeyed(ctx, -2, &kindsv1.LongKeyed{Total: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishHeaderKeyed(ctx, &kindsv1.HeaderKeyed{Seen: true}); err != nil {
		t.Fatal(err)
	}
	shard := &kindsv1.ShardKey{Tenant: "t1", ID: 42}
	if err := pub.PublishRecordKeyed(ctx, shard, &kindsv1.RecordKeyed{What: "w"}); err != nil {
		t.Fatal(err)
	}
	shaped := shapedEvent()
	if err := pub.PublishShaped(ctx, shaped); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	stop()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.got["kinds.field-keyed.v1"].(*kindsv1.FieldKeyed)
	if got.ID != "agg-1" || got.Colour != kindsv1.ColourBlue || got.Next == nil || got.Next.ID != "agg-0" || got.Next.Next != nil {
		t.Errorf("FieldKeyed = %+v", got)
	}
	if u := h.got["kinds.no-key.v1"].(*kindsv1.UserSignedUp); u.UserID != 7 || u.UserEmail != "a@example.com" {
		t.Errorf("UserSignedUp = %+v", u)
	}
	if s := h.got["kinds.string-key.v1"].(*kindsv1.StringKeyed); s.Note != "n" {
		t.Errorf("StringKeyed = %+v", s)
	}
	if i := h.got["kinds.int-key.v1"].(*kindsv1.IntKeyed); i.Count != 3 {
		t.Errorf("IntKeyed = %+v", i)
	}
	if l := h.got["kinds.long-key.v1"].(*kindsv1.LongKeyed); l.Total != 1<<40 {
		t.Errorf("LongKeyed = %+v", l)
	}
	if k, id := h.keys["kinds.header-key.v1"], h.ids["kinds.header-key.v1"]; id == "" || string(k) != id {
		t.Errorf("header-keyed record: key %q, want its event id %q", k, id)
	}
	if r := h.got["kinds.record-key.v1"].(*kindsv1.RecordKeyed); r.What != "w" {
		t.Errorf("RecordKeyed = %+v", r)
	}
	if got := h.got["kinds.unions.v1"].(*kindsv1.Shaped); !reflect.DeepEqual(got, shaped) {
		t.Errorf("Shaped = %+v, want %+v", got, shaped)
	}
	wantKey, err := c.Encode(ctx, nil, kindsv1.ShardKeySchema, shard)
	if err != nil {
		t.Fatal(err)
	}
	if k := h.keys["kinds.record-key.v1"]; !bytes.Equal(k, wantKey) {
		t.Errorf("record key % x, want % x (the key schema's single-object encoding)", k, wantKey)
	}
	if h.shardErr != nil || h.shard != *shard {
		t.Errorf("the handler's DecodeKey gives %+v, %v", h.shard, h.shardErr)
	}
	for topic, want := range map[string][]byte{
		"kinds.field-keyed.v1": []byte("agg-1"),
		"kinds.string-key.v1":  []byte("k-1"),
		"kinds.int-key.v1":     {0, 0, 1, 2},
		"kinds.long-key.v1":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe},
	} {
		if !bytes.Equal(h.keys[topic], want) {
			t.Errorf("%s: key % x, want % x", topic, h.keys[topic], want)
		}
	}
	if k := h.keys["kinds.no-key.v1"]; k != nil {
		t.Errorf("no-key record has key %q, want a null key", k)
	}
}

// shapedEvent is a Shaped whose general unions take a branch of every kind:
// a record with a nested union, an array of records, a map of a nullable
// union, a null in a union with null, a logical type.
func shapedEvent() *kindsv1.Shaped {
	tag := "t"
	circles := []kindsv1.Circle{{Radius: 1.5, Tag: kindsv1.CircleTag{String: &tag}}, {Radius: 2}}
	long := int64(-9)
	at := time.UnixMilli(1_700_000_000_123).UTC()
	m := map[string]kindsv1.ShapedMany2{"c": {Circle: &circles[0]}, "b": {Bytes: &[]byte{1, 2}}, "n": {}}
	return &kindsv1.Shaped{
		Value:  kindsv1.ShapedValue{Circle: &kindsv1.Circle{Radius: 3, Tag: kindsv1.CircleTag{Long: &long}}},
		Maybe:  kindsv1.ShapedMaybe{Array: &circles},
		Many:   []kindsv1.ShapedMany{{Long: &long}, {Map: &m}},
		At:     &at,
		Circle: &circles[1],
	}
}

// TestUnionBranches encodes and decodes a Shaped with each branch of its
// general unions set, through the codec the generated code uses, and
// refuses a union with no branch set where it has no null.
func TestUnionBranches(t *testing.T) {
	t.Parallel()
	c, err := codec.NewSingleObject(codec.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	i, s, colour, hash, flag := int32(-4), "s", kindsv1.ColourRed, [4]byte{1, 2, 3, 4}, true
	for name, v := range map[string]kindsv1.ShapedValue{
		"int":    {Int: &i},
		"string": {String: &s},
		"enum":   {Colour: &colour},
		"record": {Circle: &kindsv1.Circle{Radius: 1}},
		"fixed":  {Hash: &hash},
	} {
		t.Run(name, func(t *testing.T) {
			in := &kindsv1.Shaped{Value: v, Maybe: kindsv1.ShapedMaybe{Boolean: &flag}, Many: []kindsv1.ShapedMany{}}
			data, err := c.Encode(t.Context(), nil, kindsv1.ShapedSchema, in)
			if err != nil {
				t.Fatal(err)
			}
			var out kindsv1.Shaped
			if err := c.Decode(t.Context(), data, kindsv1.ShapedSchema, &out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&out, in) {
				t.Errorf("decoded %+v, want %+v", out, *in)
			}
			if out.Value.Branch() != in.Value.Branch() {
				t.Errorf("branch %s, want %s", out.Value.Branch(), in.Value.Branch())
			}
		})
	}
	if got, ok := (kindsv1.ShapedValue{Int: &i}).AsInt(); !ok || got != i {
		t.Errorf("AsInt = %d, %v", got, ok)
	}
	if _, ok := (kindsv1.ShapedValue{Int: &i}).AsString(); ok {
		t.Error("AsString of an int reports set")
	}
	if _, err := c.Encode(t.Context(), nil, kindsv1.ShapedSchema, &kindsv1.Shaped{}); err == nil {
		t.Error("a union with no branch and no null encoded")
	}
}
