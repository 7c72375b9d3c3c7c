package codec

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// SchemaStore makes writer schemas findable by fingerprint, for codecs that
// run without a Schema Registry. Implementations are safe for concurrent
// use; [storetest.Run] is the conformance suite every implementation must
// pass.
//
// [storetest.Run]: https://pkg.go.dev/github.com/keiyaku/keiyaku/runtime/events/codec/storetest#Run
type SchemaStore interface {
	// Put makes s findable by its fingerprint, in this process and, for a
	// shared store, in every process that reads the store. When Put
	// returns nil, a Get for s's fingerprint by any reader of the store
	// that starts afterwards finds it. Putting a schema again is a no-op.
	Put(ctx context.Context, s *Schema) error
	// Get returns the schema with the given fingerprint. It returns an
	// error wrapping [ErrUnknownSchema] when the store does not hold it, and
	// other errors when the store cannot be read.
	Get(ctx context.Context, fingerprint uint64) (*Schema, error)
}

// MemoryStore is a [SchemaStore] held in memory: schemas Put are findable
// only through the same MemoryStore. It serves tests and single-process
// setups. The zero value is not usable; use [NewMemoryStore].
type MemoryStore struct {
	mu      sync.RWMutex
	schemas map[uint64]*Schema
}

// NewMemoryStore returns an empty [MemoryStore].
func NewMemoryStore() SchemaStore {
	return &MemoryStore{schemas: make(map[uint64]*Schema)}
}

// Put stores s under its fingerprint unless a schema with that fingerprint
// is already stored. It returns an error only for a nil schema.
func (m *MemoryStore) Put(_ context.Context, s *Schema) error {
	if s == nil {
		return errors.New("put schema: nil schema")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.schemas[s.fp]; !ok {
		m.schemas[s.fp] = s
	}
	return nil
}

// Get returns the schema stored under fingerprint, or an error wrapping
// [ErrUnknownSchema].
func (m *MemoryStore) Get(_ context.Context, fingerprint uint64) (*Schema, error) {
	m.mu.RLock()
	s, ok := m.schemas[fingerprint]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("get schema %s: %w", fingerprintHex(fingerprint), ErrUnknownSchema)
	}
	return s, nil
}
