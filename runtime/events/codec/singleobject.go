package codec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/avro"
)

// SingleObject is the registry-free [Codec]: Avro single-object encoding
// (C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
// schema, the Avro body), with writer schemas kept in a [SchemaStore]. It is
// safe for concurrent use.
type SingleObject struct {
	store    SchemaStore
	put      sync.Map // fingerprint → struct{}: schemas this codec has Put
	putting  flight[uint64, struct{}]
	resolver *resolver
}

var _ Codec = (*SingleObject)(nil)

// NewSingleObject returns a single-object codec that Puts writer schemas
// into store and looks unknown fingerprints up in it. Options marked
// "Confluent only" are an error.
func NewSingleObject(store SchemaStore, opts ...Option) (*SingleObject, error) {
	if store == nil {
		return nil, errors.New("new single-object codec: nil schema store")
	}
	cfg := defaultConfig()
	if err := applyOptions(&cfg, opts, false); err != nil {
		return nil, fmt.Errorf("new single-object codec: %w", err)
	}
	return &SingleObject{store: store, resolver: newResolver(cfg.cacheSize)}, nil
}

// Encode appends the single-object encoding of v, written with s, to dst.
// The first Encode with a schema Puts it into the store and fails if the Put
// fails; later ones do no I/O.
func (c *SingleObject) Encode(ctx context.Context, dst []byte, s *Schema, v any) ([]byte, error) {
	if s == nil {
		return dst, errors.New("encode: nil schema")
	}
	if _, ok := c.put.Load(s.fp); !ok {
		if err := c.putSchema(ctx, s); err != nil {
			return dst, err
		}
	}
	ev, err := encodable(v)
	if err != nil {
		return dst, fmt.Errorf("encode %s: %w", s.name, err)
	}
	out, err := s.avro.AppendSingleObject(dst, ev)
	if err != nil {
		return dst, fmt.Errorf("encode %s: %w", s.name, err)
	}
	return out, nil
}

func (c *SingleObject) putSchema(ctx context.Context, s *Schema) error {
	_, err := c.putting.do(ctx, s.fp, func(ctx context.Context) (struct{}, error) {
		if _, ok := c.put.Load(s.fp); ok {
			return struct{}{}, nil
		}
		if err := c.store.Put(ctx, s); err != nil {
			return struct{}{}, err
		}
		c.put.Store(s.fp, struct{}{})
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("put writer schema %s (%s): %w", s.name, fingerprintHex(s.fp), err)
	}
	return nil
}

// Decode reads a single-object encoded value into out, resolving the writer
// schema named by the fingerprint against reader. Data whose fingerprint is
// the reader's is decoded without a store lookup.
func (c *SingleObject) Decode(ctx context.Context, data []byte, reader *Schema, out any) error {
	if err := checkDecodeArgs(reader, out); err != nil {
		return err
	}
	fpb, payload, err := avro.SingleObjectFingerprint(data)
	if err != nil {
		return fmt.Errorf("decode %s: %w: %w", reader.name, ErrBadHeader, err)
	}
	fp := binary.LittleEndian.Uint64(fpb[:])
	dec := reader.avro
	if fp != reader.fp {
		dec, err = c.resolver.decoder(ctx, fp, reader, func(ctx context.Context) (*Schema, error) {
			w, err := c.store.Get(ctx, fp)
			if err != nil {
				return nil, fmt.Errorf("decode %s: %w", reader.name, err)
			}
			if w.fp != fp {
				return nil, fmt.Errorf("decode %s: store returned schema %s for fingerprint %s: %w",
					reader.name, fingerprintHex(w.fp), fingerprintHex(fp), ErrUnknownSchema)
			}
			return w, nil
		})
		if err != nil {
			return err
		}
	}
	return decodeBody(dec, payload, reader, out)
}

// DataSchema returns "urn:avro:fingerprint:" followed by the 16 hex digits of
// s's fingerprint. It does no I/O.
func (c *SingleObject) DataSchema(_ context.Context, s *Schema) (string, error) {
	if s == nil {
		return "", errors.New("data schema: nil schema")
	}
	return "urn:avro:fingerprint:" + fingerprintHex(s.fp), nil
}
