package codec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/keiyaku/keiyaku/runtime/events/internal/bysubject"
)

// RecordNameStrategy names a schema's registry subject after the record's
// full name, e.g. "hotel.reservation.v1.ReservationCreated", so that one
// topic can carry several event types. It is the default subject strategy.
func RecordNameStrategy(s *Schema) string { return s.name }

// WithSubjectNameStrategy sets how [Confluent] names the registry subject of
// a writer schema encoded without a subject ([Codec.Encode], or
// [EncodeSubject] with an empty one), overriding the default
// [RecordNameStrategy]. A subject given to [EncodeSubject] wins: generated
// event types give the one the breaking gate checks (events.Type Subject
// and KeySubject), so the strategy applies to hand-written types only.
// Confluent only.
func WithSubjectNameStrategy(fn func(*Schema) string) Option {
	return Option{name: "WithSubjectNameStrategy", confluent: true, apply: func(c *config) error {
		if fn == nil {
			return errors.New("nil strategy")
		}
		c.subject = fn
		return nil
	}}
}

// WithAutoRegister sets whether [Confluent] registers a writer schema on its
// first Encode (true, the default) or only looks it up, failing with
// [ErrUnknownSchema] when it is not registered under its subject (false: for
// registries where CI registers schemas and services may not).
// Confluent only.
func WithAutoRegister(register bool) Option {
	return Option{name: "WithAutoRegister", confluent: true, apply: func(c *config) error {
		c.autoRegister = register
		return nil
	}}
}

// WithDataSchemaURL sets the registry base URL that [Confluent.DataSchema]
// puts in front of "/schemas/ids/<id>", overriding the default: the first
// URL the sr.Client was given, without its user information. A URL with
// user information is refused. Use it when clients reach the registry at an
// address other than the public one. Confluent only.
func WithDataSchemaURL(base string) Option {
	return Option{name: "WithDataSchemaURL", confluent: true, apply: func(c *config) error {
		u, err := url.Parse(base)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return errors.New("the data schema URL is not an absolute URL")
		}
		if u.User != nil {
			return errors.New("the data schema URL carries user information: it would be copied into every ce_dataschema header; give the registry login to the sr.Client instead (sr.BasicAuth)")
		}
		c.baseURL = base
		return nil
	}}
}

// Confluent is the [Codec] for a Confluent-compatible Schema Registry: the
// byte 00, the 4-byte big-endian schema id, the Avro body. It registers (or
// looks up) a writer schema under its subject on its first Encode and
// fetches writer schemas by id on Decode, caching both. The subject is the
// one given to [Confluent.EncodeSubject] (through [EncodeSubject]: the
// producer passes the event type's), else the one the strategy names
// ([WithSubjectNameStrategy], default [RecordNameStrategy]). It is safe for
// concurrent use.
type Confluent struct {
	client       *sr.Client
	subject      func(*Schema) string
	autoRegister bool
	baseURL      string
	header       sr.ConfluentHeader

	ids      *boundedCache[*Schema, *bysubject.Map[int]] // by subject, "" for the strategy's
	entryMu  sync.Mutex                                  // serialises adding an entry to ids
	idCalls  flight[idKey, int]
	writers  *boundedCache[uint64, *Schema]
	wCalls   flight[uint64, *Schema]
	resolver *resolver
}

var _ SubjectCodec = (*Confluent)(nil)

// idKey is a schema under a subject ("" for the strategy's).
type idKey struct {
	s       *Schema
	subject string
}

// NewConfluent returns a codec that talks to the registry through client.
func NewConfluent(client *sr.Client, opts ...Option) (*Confluent, error) {
	if client == nil {
		return nil, errors.New("new confluent codec: nil registry client")
	}
	cfg := defaultConfig()
	if err := applyOptions(&cfg, opts, true); err != nil {
		return nil, fmt.Errorf("new confluent codec: %w", err)
	}
	if cfg.baseURL == "" {
		if urls, _ := client.OptValue(sr.URLs).([]string); len(urls) > 0 {
			cfg.baseURL = withoutUserInfo(urls[0])
		}
	}
	return &Confluent{
		client:       client,
		subject:      cfg.subject,
		autoRegister: cfg.autoRegister,
		baseURL:      strings.TrimSuffix(cfg.baseURL, "/"),
		ids:          newBoundedCache[*Schema, *bysubject.Map[int]](cfg.cacheSize),
		writers:      newBoundedCache[uint64, *Schema](cfg.cacheSize),
		resolver:     newResolver(cfg.cacheSize),
	}, nil
}

// Encode appends the Confluent framing and the Avro binary of v, written with
// s, to dst. The first Encode with a schema registers it (or looks it up, see
// [WithAutoRegister]) under the subject the strategy names; later ones do
// no I/O.
func (c *Confluent) Encode(ctx context.Context, dst []byte, s *Schema, v any) ([]byte, error) {
	return c.EncodeSubject(ctx, dst, s, "", v)
}

// EncodeSubject is [Confluent.Encode] with s registered (or looked up)
// under subject, or under the one the strategy names when subject is
// empty. The first use of a schema under a subject does I/O; later ones do
// none.
func (c *Confluent) EncodeSubject(ctx context.Context, dst []byte, s *Schema, subject string, v any) ([]byte, error) {
	if s == nil {
		return dst, errors.New("encode: nil schema")
	}
	id, err := c.id(ctx, s, subject)
	if err != nil {
		return dst, err
	}
	out, _ := c.header.AppendEncode(dst, id, nil) // never fails
	ev, err := encodable(v)
	if err != nil {
		return dst, fmt.Errorf("encode %s: %w", s.name, err)
	}
	out, err = s.avro.AppendEncode(out, ev)
	if err != nil {
		return dst, fmt.Errorf("encode %s: %w", s.name, err)
	}
	return out, nil
}

// id returns the registry id of s under subject ("" for the strategy's),
// registering or looking it up once.
func (c *Confluent) id(ctx context.Context, s *Schema, subject string) (int, error) {
	if e, ok := c.ids.get(s); ok {
		if id, ok := e.Get(subject); ok {
			return id, nil
		}
	}
	return c.idCalls.do(ctx, idKey{s, subject}, func(ctx context.Context) (int, error) {
		e, ok := c.ids.get(s)
		if ok {
			if id, ok := e.Get(subject); ok {
				return id, nil
			}
		}
		given := subject
		if subject == "" {
			subject = c.subject(s)
		}
		schema := sr.Schema{Schema: s.String(), Type: sr.TypeAvro}
		var id int
		var err error
		if c.autoRegister {
			id, err = c.client.RegisterSchema(ctx, subject, schema, -1, -1)
		} else {
			var ss sr.SubjectSchema
			ss, err = c.client.LookupSchema(ctx, subject, schema)
			id = ss.ID
		}
		if err != nil {
			what := "register"
			if !c.autoRegister {
				what = "look up"
			}
			return 0, fmt.Errorf("%s schema %s under subject %q: %w", what, s.name, subject, registryErr(err))
		}
		c.entryMu.Lock() // so that two subjects of one schema share an entry
		if e, ok = c.ids.get(s); !ok {
			e = &bysubject.Map[int]{}
			c.ids.put(s, e)
		}
		c.entryMu.Unlock()
		e.Put(given, id)
		return id, nil
	})
}

// Decode reads a Confluent-framed value into out, resolving the writer schema
// with the framed id against reader.
func (c *Confluent) Decode(ctx context.Context, data []byte, reader *Schema, out any) error {
	if err := checkDecodeArgs(reader, out); err != nil {
		return err
	}
	id, payload, err := c.header.DecodeID(data)
	if err != nil {
		return fmt.Errorf("decode %s: %w: need 00 and a 4-byte schema id, have % x", reader.name, ErrBadHeader, data[:min(len(data), 5)])
	}
	dec, err := c.resolver.decoder(ctx, uint64(id), reader, func(ctx context.Context) (*Schema, error) {
		w, err := c.writer(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", reader.name, err)
		}
		return w, nil
	})
	if err != nil {
		return err
	}
	return decodeBody(dec, payload, reader, out)
}

// writer returns the schema with the given registry id, fetching it once.
func (c *Confluent) writer(ctx context.Context, id int) (*Schema, error) {
	if s, ok := c.writers.get(uint64(id)); ok {
		return s, nil
	}
	return c.wCalls.do(ctx, uint64(id), func(ctx context.Context) (*Schema, error) {
		if s, ok := c.writers.get(uint64(id)); ok {
			return s, nil
		}
		ss, err := c.client.SchemaByID(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("schema id %d: %w", id, registryErr(err))
		}
		if ss.Type != sr.TypeAvro {
			return nil, fmt.Errorf("schema id %d is %s, not Avro: %w", id, ss.Type, ErrUnknownSchema)
		}
		if len(ss.References) > 0 {
			return nil, fmt.Errorf("schema id %d has references, which are not supported (schemas must be self-contained): %w", id, ErrUnknownSchema)
		}
		s, err := NewSchema(ss.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema id %d: %w: %w", id, ErrUnknownSchema, err)
		}
		c.writers.put(uint64(id), s)
		return s, nil
	})
}

// withoutUserInfo returns raw without user:password@, so that a login
// given in the registry client's URL never reaches a ce_dataschema header.
func withoutUserInfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

// DataSchema returns the registry URL of s, "<base>/schemas/ids/<id>",
// registering or looking s up first (under the subject the strategy names)
// if no Encode has.
func (c *Confluent) DataSchema(ctx context.Context, s *Schema) (string, error) {
	return c.DataSchemaSubject(ctx, s, "")
}

// DataSchemaSubject is [Confluent.DataSchema] with s registered (or looked
// up) under subject, or under the one the strategy names when subject is
// empty.
func (c *Confluent) DataSchemaSubject(ctx context.Context, s *Schema, subject string) (string, error) {
	if s == nil {
		return "", errors.New("data schema: nil schema")
	}
	id, err := c.id(ctx, s, subject)
	if err != nil {
		return "", err
	}
	return c.baseURL + "/schemas/ids/" + strconv.Itoa(id), nil
}

// registryErr wraps a registry "not found" answer with ErrUnknownSchema and
// returns other errors (unreachable registry, server errors) as they are.
func registryErr(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusNotFound ||
		re.ErrorCode == sr.ErrSchemaNotFound.Code || re.ErrorCode == sr.ErrSubjectNotFound.Code) {
		return fmt.Errorf("%w: %w", ErrUnknownSchema, err)
	}
	return err
}
