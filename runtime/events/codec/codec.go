package codec

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/twmb/avro"
)

// Codec writes and reads values with a schema header. Implementations are
// safe for concurrent use.
type Codec interface {
	// Encode appends the header and the Avro binary of v (written with s)
	// to dst and returns the extended slice. On error it returns dst
	// unchanged in length. Encode makes s findable by readers (a store Put
	// or a registry registration) before it writes the first value with it.
	Encode(ctx context.Context, dst []byte, s *Schema, v any) ([]byte, error)
	// Decode reads data written with any writer schema that the reader
	// schema can resolve (Avro schema resolution, [avro.Resolve]) into out,
	// a non-nil pointer. The whole of data must be one value: trailing
	// bytes are an error. Decode copies what it keeps: out does not alias
	// data. Errors wrap [ErrBadHeader], [ErrUnknownSchema],
	// [ErrIncompatible] or [ErrMalformed], except failures to reach a
	// schema store or registry, which are returned as they are so that the
	// caller can retry.
	Decode(ctx context.Context, data []byte, reader *Schema, out any) error
	// DataSchema returns the ce_dataschema URI for values written with s.
	DataSchema(ctx context.Context, s *Schema) (string, error)
}

// SubjectCodec is a [Codec] that registers writer schemas in a Schema
// Registry under a subject, [Confluent]: EncodeSubject and
// DataSchemaSubject are Encode and DataSchema with the schema registered
// (or looked up) under subject, an empty subject meaning the one the
// codec's strategy names. Call them through [EncodeSubject] and
// [DataSchemaSubject], which fall back to a plain Codec.
type SubjectCodec interface {
	Codec
	EncodeSubject(ctx context.Context, dst []byte, s *Schema, subject string, v any) ([]byte, error)
	DataSchemaSubject(ctx context.Context, s *Schema, subject string) (string, error)
}

// EncodeSubject is c.Encode with s registered under subject when c is a
// [SubjectCodec] and subject is not empty; other codecs (single-object
// encoding, JSON) have no subjects and ignore it. The producer calls it
// with the event type's Subject (or KeySubject for a record key), which
// generated types set to the subject the breaking gate checks.
func EncodeSubject(ctx context.Context, c Codec, dst []byte, s *Schema, subject string, v any) ([]byte, error) {
	if sc, ok := c.(SubjectCodec); ok && subject != "" {
		return sc.EncodeSubject(ctx, dst, s, subject, v)
	}
	return c.Encode(ctx, dst, s, v)
}

// DataSchemaSubject is c.DataSchema with s registered under subject when c
// is a [SubjectCodec] and subject is not empty, as [EncodeSubject].
func DataSchemaSubject(ctx context.Context, c Codec, s *Schema, subject string) (string, error) {
	if sc, ok := c.(SubjectCodec); ok && subject != "" {
		return sc.DataSchemaSubject(ctx, s, subject)
	}
	return c.DataSchema(ctx, s)
}

var (
	// ErrUnknownSchema reports a writer schema that cannot be found: a
	// fingerprint absent from the schema store or an id the registry does
	// not know.
	ErrUnknownSchema = errors.New("unknown writer schema")
	// ErrBadHeader reports data that does not start with the codec's
	// header: a wrong magic byte or fewer bytes than the header needs.
	ErrBadHeader = errors.New("bad schema header")
	// ErrIncompatible reports a writer schema that the reader schema cannot
	// resolve, such as a changed field type or a new reader field without a
	// default.
	ErrIncompatible = errors.New("incompatible writer schema")
	// ErrMalformed reports an Avro body that cannot be decoded with the
	// writer schema: truncated, out of range, or followed by trailing bytes.
	ErrMalformed = errors.New("malformed avro data")
)

// DefaultResolveCacheSize is the number of resolved (writer, reader) schema
// pairs a codec keeps unless [WithResolveCacheSize] says otherwise.
const DefaultResolveCacheSize = 1024

// Option configures [NewSingleObject] or [NewConfluent]. Options marked
// "Confluent only" make NewSingleObject return an error.
type Option struct {
	name      string
	confluent bool
	apply     func(*config) error
}

type config struct {
	cacheSize    int
	subject      func(*Schema) string
	autoRegister bool
	baseURL      string
}

func defaultConfig() config {
	return config{
		cacheSize:    DefaultResolveCacheSize,
		subject:      RecordNameStrategy,
		autoRegister: true,
	}
}

func applyOptions(c *config, opts []Option, confluent bool) error {
	for _, o := range opts {
		if o.apply == nil {
			return errors.New("zero Option")
		}
		if o.confluent && !confluent {
			return fmt.Errorf("option %s applies to the Confluent codec only", o.name)
		}
		if err := o.apply(c); err != nil {
			return fmt.Errorf("option %s: %w", o.name, err)
		}
	}
	return nil
}

// WithResolveCacheSize bounds the number of resolved (writer, reader) schema
// pairs the codec caches, and for [Confluent] the number of schema ids it
// caches, overriding the default [DefaultResolveCacheSize]. n must be
// positive.
func WithResolveCacheSize(n int) Option {
	return Option{name: "WithResolveCacheSize", apply: func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("cache size %d is not positive", n)
		}
		c.cacheSize = n
		return nil
	}}
}

// resolver caches the schemas that decode data of a writer into a reader's
// layout, keyed by the writer's fingerprint or registry id and the reader.
type resolver struct {
	cache *boundedCache[pairKey, resolved]
}

type pairKey struct {
	writer uint64
	reader *Schema
}

type resolved struct {
	s   *avro.Schema
	err error
}

func newResolver(size int) *resolver {
	return &resolver{cache: newBoundedCache[pairKey, resolved](size)}
}

// decoder returns the schema that decodes data written with the writer
// identified by key into reader's layout, fetching the writer with get on a
// cache miss. Errors from get (store or registry) are not cached, so a
// transient failure heals; resolution results, successful or not, are.
func (r *resolver) decoder(ctx context.Context, key uint64, reader *Schema, get func(context.Context) (*Schema, error)) (*avro.Schema, error) {
	pk := pairKey{writer: key, reader: reader}
	if e, ok := r.cache.get(pk); ok {
		return e.s, e.err
	}
	w, err := get(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := avro.Resolve(w.avro, reader.avro)
	if err != nil {
		err = fmt.Errorf("resolve writer %s (%s) to reader %s (%s): %w: %w",
			w.name, fingerprintHex(w.fp), reader.name, fingerprintHex(reader.fp), ErrIncompatible, err)
	}
	r.cache.put(pk, resolved{s: rs, err: err})
	return rs, err
}

// Unioned is implemented by generated records that hold a general Avro
// union (more than one non-null branch), directly or in a nested type.
// twmb/avro cannot fill a Go sum type, so such a record is encoded from and
// decoded into twmb/avro's natural form: map[string]any for a record, []any
// for an array, and a union as {"branch name": value} (avro.TaggedUnions).
type Unioned interface {
	// AvroNatural returns the record in the natural form.
	AvroNatural() (map[string]any, error)
	// SetAvroNatural fills the record from the natural form.
	SetAvroNatural(v any) error
}

// encodable is what twmb/avro encodes for v: its natural form when v is
// [Unioned], else v.
func encodable(v any) (any, error) {
	if u, ok := v.(Unioned); ok {
		return u.AvroNatural()
	}
	return v, nil
}

// decodeBody decodes payload with dec into out and requires that it consumes
// payload exactly.
func decodeBody(dec *avro.Schema, payload []byte, reader *Schema, out any) error {
	var rest []byte
	var err error
	if u, ok := out.(Unioned); ok {
		var natural any
		if rest, err = dec.Decode(payload, &natural, avro.TaggedUnions()); err == nil {
			err = u.SetAvroNatural(natural)
		}
	} else {
		rest, err = dec.Decode(payload, out)
	}
	if err != nil {
		return fmt.Errorf("decode %s: %w: %w", reader.name, ErrMalformed, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("decode %s: %w: %d trailing bytes", reader.name, ErrMalformed, len(rest))
	}
	return nil
}

// checkDecodeArgs rejects caller mistakes before any input is read, so that
// they are not reported as malformed data.
func checkDecodeArgs(reader *Schema, out any) error {
	if reader == nil {
		return errors.New("decode: nil reader schema")
	}
	if rv := reflect.ValueOf(out); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decode %s: out must be a non-nil pointer, not %T", reader.name, out)
	}
	return nil
}

// boundedCache is a concurrency-safe map that holds at most max entries;
// when full, a put evicts an arbitrary entry. Reads take no lock.
type boundedCache[K comparable, V any] struct {
	m   sync.Map
	n   atomic.Int64
	max int64
	mu  sync.Mutex // serialises puts so that n stays exact
}

func newBoundedCache[K comparable, V any](max int) *boundedCache[K, V] {
	return &boundedCache[K, V]{max: int64(max)}
}

func (c *boundedCache[K, V]) get(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

func (c *boundedCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, loaded := c.m.Swap(k, v); loaded {
		return
	}
	if c.n.Add(1) <= c.max {
		return
	}
	c.m.Range(func(old, _ any) bool {
		if old.(K) == k {
			return true
		}
		c.m.Delete(old)
		c.n.Add(-1)
		return false
	})
}

func (c *boundedCache[K, V]) len() int { return int(c.n.Load()) }

// flight deduplicates concurrent calls for one key: the first caller (the
// leader) runs fn with its own context and later callers wait for its
// result. If the leader's context ends before fn succeeds, waiters whose
// contexts are still live start over, so one caller giving up never fails
// the others. Each caller stops waiting when its own context is done.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*call[V]
}

type call[V any] struct {
	done      chan struct{}
	v         V
	err       error
	abandoned bool // the leader's context ended: waiters retry
}

func (f *flight[K, V]) do(ctx context.Context, k K, fn func(context.Context) (V, error)) (V, error) {
	for {
		f.mu.Lock()
		if c, ok := f.calls[k]; ok {
			f.mu.Unlock()
			select {
			case <-c.done:
				if c.abandoned {
					continue
				}
				return c.v, c.err
			case <-ctx.Done():
				var zero V
				return zero, ctx.Err()
			}
		}
		if f.calls == nil {
			f.calls = make(map[K]*call[V])
		}
		c := &call[V]{done: make(chan struct{})}
		f.calls[k] = c
		f.mu.Unlock()

		c.v, c.err = fn(ctx)
		c.abandoned = c.err != nil && ctx.Err() != nil
		f.mu.Lock()
		delete(f.calls, k)
		f.mu.Unlock()
		close(c.done)
		return c.v, c.err
	}
}

// NaturalBranch splits a union value of the natural form [Unioned] uses,
// {"branch name": value}, into the branch name and the value. Generated
// code calls it.
func NaturalBranch(v any) (string, any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, fmt.Errorf("union value %T is not {\"branch\": value}", v)
	}
	for name, value := range m {
		return name, value, nil
	}
	panic("unreachable")
}
