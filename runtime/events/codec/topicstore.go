package codec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the schema topic a [TopicStore] uses unless [WithTopic]
// says otherwise.
const DefaultTopic = "_keiyaku_schemas"

// DefaultReadTimeout bounds how long a [TopicStore.Get] miss reads the schema
// topic unless [WithReadTimeout] says otherwise.
const DefaultReadTimeout = 10 * time.Second

// maxSchemaBytes bounds a schema record's value; larger values are skipped.
const maxSchemaBytes = 1 << 20

// TopicStoreOption configures [NewTopicStore].
type TopicStoreOption struct {
	name  string
	apply func(*topicConfig) error
}

type topicConfig struct {
	topic   string
	timeout time.Duration
	log     *slog.Logger
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// WithTopic sets the schema topic, overriding the default [DefaultTopic].
// The name must be a legal Kafka topic name.
func WithTopic(name string) TopicStoreOption {
	return TopicStoreOption{name: "WithTopic", apply: func(c *topicConfig) error {
		if !topicName.MatchString(name) || name == "." || name == ".." {
			return fmt.Errorf("%q is not a legal topic name", name)
		}
		c.topic = name
		return nil
	}}
}

// WithReadTimeout bounds how long a Get that misses the cache may spend
// reading the schema topic, overriding the default [DefaultReadTimeout]. The
// caller's context can end the wait sooner. d must be positive.
func WithReadTimeout(d time.Duration) TopicStoreOption {
	return TopicStoreOption{name: "WithReadTimeout", apply: func(c *topicConfig) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v is not positive", d)
		}
		c.timeout = d
		return nil
	}}
}

// WithLogger sets the logger that reports skipped schema topic records
// (a key that is not a fingerprint, a value that is not a schema with that
// fingerprint), overriding the default, which discards them.
func WithLogger(l *slog.Logger) TopicStoreOption {
	return TopicStoreOption{name: "WithLogger", apply: func(c *topicConfig) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.log = l
		return nil
	}}
}

// TopicStore is a [SchemaStore] backed by a compacted Kafka topic: each
// record's key is the 16 lower-case hex digits of a schema fingerprint and
// its value the schema JSON. It is safe for concurrent use.
//
// Put produces a schema once per TopicStore and waits until all in-sync
// replicas have it. Get serves schemas from memory; on a miss it lists the
// topic's offsets and reads only records it has not read yet, with a fresh
// reader client built from the connection options of the client given to
// [NewTopicStore] (so the caller's client never has its consumption changed),
// bounded by [WithReadTimeout]. Concurrent misses share one read. A miss
// whose fingerprint is not in the topic costs two ListOffsets requests and
// no read when the topic has not grown.
type TopicStore struct {
	client     *kgo.Client
	admin      *kadm.Client
	topic      string
	timeout    time.Duration
	log        *slog.Logger
	readerOpts []kgo.Opt

	schemas sync.Map // fingerprint → *Schema, from the topic or Put
	puts    flight[uint64, struct{}]

	reads   flight[struct{}, uint64]
	readSeq atomic.Uint64
	mu      sync.Mutex // guards next
	next    map[int32]int64
}

var _ SchemaStore = (*TopicStore)(nil)

// NewTopicStore returns a store that produces to and reads the schema topic
// through client, which stays owned by the caller: the store never closes
// it. client must produce with acks=all (kgo's default); it may also be a
// consumer (group) client. NewTopicStore does no I/O; the topic must exist
// before the first Put ([TopicStore.EnsureTopic] creates it).
func NewTopicStore(client *kgo.Client, opts ...TopicStoreOption) (*TopicStore, error) {
	if client == nil {
		return nil, errors.New("new topic store: nil client")
	}
	if acks, _ := client.OptValue(kgo.RequiredAcks).(kgo.Acks); acks != kgo.AllISRAcks() {
		return nil, errors.New("new topic store: client must produce with acks=all")
	}
	cfg := topicConfig{topic: DefaultTopic, timeout: DefaultReadTimeout, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o.apply == nil {
			return nil, errors.New("new topic store: zero TopicStoreOption")
		}
		if err := o.apply(&cfg); err != nil {
			return nil, fmt.Errorf("new topic store: option %s: %w", o.name, err)
		}
	}
	// The reader keeps the connection options (seeds, TLS, SASL, dialer,
	// logger, hooks) and drops everything about producing and consuming.
	var readerOpts []kgo.Opt
	for _, o := range client.Opts() {
		switch o.(type) {
		case kgo.ProducerOpt, kgo.ConsumerOpt, kgo.GroupOpt:
		default:
			readerOpts = append(readerOpts, o)
		}
	}
	return &TopicStore{
		client:     client,
		admin:      kadm.NewClient(client),
		topic:      cfg.topic,
		timeout:    cfg.timeout,
		log:        cfg.log,
		readerOpts: readerOpts,
		next:       make(map[int32]int64),
	}, nil
}

// Topic returns the name of the schema topic.
func (t *TopicStore) Topic() string { return t.topic }

// EnsureTopic creates the schema topic, compacted, with one partition and the
// broker's default replication factor, unless it exists. It does not check
// the configuration of an existing topic.
func (t *TopicStore) EnsureTopic(ctx context.Context) error {
	compact := "compact"
	_, err := t.admin.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, t.topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create schema topic %q: %w", t.topic, err)
	}
	return nil
}

// Put produces s to the schema topic unless this store has produced it or
// read it from the topic before. It returns once all in-sync replicas have
// the record.
func (t *TopicStore) Put(ctx context.Context, s *Schema) error {
	if s == nil {
		return errors.New("put schema: nil schema")
	}
	if _, ok := t.schemas.Load(s.fp); ok {
		return nil
	}
	_, err := t.puts.do(ctx, s.fp, func(ctx context.Context) (struct{}, error) {
		if _, ok := t.schemas.Load(s.fp); ok {
			return struct{}{}, nil
		}
		rec := &kgo.Record{Topic: t.topic, Key: []byte(fingerprintHex(s.fp)), Value: []byte(s.String())}
		if err := t.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return struct{}{}, err
		}
		t.schemas.LoadOrStore(s.fp, s)
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("put schema %s (%s) to topic %q: %w", s.name, fingerprintHex(s.fp), t.topic, err)
	}
	return nil
}

// Get returns the schema with the given fingerprint, reading records added
// to the schema topic since the last read when it is not in memory. It
// returns an error wrapping [ErrUnknownSchema] when the topic does not hold
// the schema or does not exist, and other errors (retryable) when the topic
// cannot be read within the read timeout.
func (t *TopicStore) Get(ctx context.Context, fingerprint uint64) (*Schema, error) {
	if s, ok := t.schemas.Load(fingerprint); ok {
		return s.(*Schema), nil
	}
	// A read that was already under way when this Get began may have listed
	// the topic's end before the schema was produced; only a read that
	// started after this point proves the schema absent.
	began := t.readSeq.Load()
	for {
		seq, err := t.reads.do(ctx, struct{}{}, t.catchUp)
		if s, ok := t.schemas.Load(fingerprint); ok {
			return s.(*Schema), nil
		}
		if err != nil {
			return nil, fmt.Errorf("get schema %s: %w", fingerprintHex(fingerprint), err)
		}
		if seq > began {
			return nil, fmt.Errorf("get schema %s from topic %q: %w", fingerprintHex(fingerprint), t.topic, ErrUnknownSchema)
		}
	}
}

var errNoTopic = errors.New("schema topic does not exist")

// catchUp reads the schema topic from where the last read stopped to the end
// offsets listed now. It returns its sequence number.
func (t *TopicStore) catchUp(ctx context.Context) (uint64, error) {
	seq := t.readSeq.Add(1)
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	starts, err := t.admin.ListStartOffsets(ctx, t.topic)
	if err == nil {
		err = starts.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		ends, err = t.admin.ListEndOffsets(ctx, t.topic)
	}
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return seq, fmt.Errorf("%w: %w: %w", ErrUnknownSchema, errNoTopic, err)
	}
	if err != nil {
		return seq, fmt.Errorf("list offsets of schema topic %q: %w", t.topic, err)
	}

	from := make(map[int32]kgo.Offset)
	until := make(map[int32]int64)
	t.mu.Lock()
	for p, end := range ends[t.topic] {
		start := int64(0)
		if so, ok := starts.Lookup(t.topic, p); ok {
			start = so.Offset
		}
		next := max(t.next[p], start)
		if end.Offset > next {
			from[p] = kgo.NewOffset().At(next)
			until[p] = end.Offset
		}
	}
	t.mu.Unlock()
	if len(until) == 0 {
		return seq, nil
	}

	reader, err := kgo.NewClient(append(slices.Clone(t.readerOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t.topic: from}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return seq, fmt.Errorf("read schema topic %q: new reader: %w", t.topic, err)
	}
	defer reader.Close()

	for len(until) > 0 {
		fetches := reader.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return seq, fmt.Errorf("read schema topic %q: %w", t.topic, err)
		}
		if err := fetches.Err(); err != nil {
			return seq, fmt.Errorf("read schema topic %q: %w", t.topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			t.mu.Lock()
			t.next[r.Partition] = max(t.next[r.Partition], r.Offset+1)
			t.mu.Unlock()
			if !r.Attrs.IsControl() {
				t.add(r)
			}
			if r.Offset+1 >= until[r.Partition] {
				delete(until, r.Partition)
			}
		})
	}
	return seq, nil
}

// add caches the schema in r, or logs why r is skipped.
func (t *TopicStore) add(r *kgo.Record) {
	skip := func(why string, args ...any) {
		t.log.Warn("skip schema topic record", append([]any{"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", why}, args...)...)
	}
	if len(r.Key) != 16 {
		skip("key is not a 16-hex-digit fingerprint")
		return
	}
	fp, err := strconv.ParseUint(string(r.Key), 16, 64)
	if err != nil {
		skip("key is not a 16-hex-digit fingerprint")
		return
	}
	if _, ok := t.schemas.Load(fp); ok {
		return
	}
	if len(r.Value) > maxSchemaBytes {
		skip("value too large", "bytes", len(r.Value))
		return
	}
	s, err := NewSchema(string(r.Value))
	if err != nil {
		skip("value is not a schema", "err", err)
		return
	}
	if s.fp != fp {
		skip("schema fingerprint differs from key", "fingerprint", fingerprintHex(s.fp))
		return
	}
	t.schemas.LoadOrStore(fp, s)
}
