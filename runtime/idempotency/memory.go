package idempotency

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryStore is a [Store] that keeps records in the memory of the
// process. Records are lost when the process exits, and processes do not
// share them: use it for tests, the embedded demo and single-instance
// services. It is safe for concurrent use; the zero value is not usable,
// build one with [NewMemoryStore].
//
// Memory is bounded: Begin returns [ErrFull] when the store holds the
// maximum number of live records or bytes (see [WithMaxRecords] and
// [WithMaxBytes]). Expired records are dropped as Begin meets them and in
// a sweep whenever the store is full; no goroutine runs in the
// background, so there is nothing to close.
type MemoryStore struct {
	maxRecords int
	maxBytes   int64

	mu      sync.Mutex
	records map[string]*memoryRecord
	bytes   int64 // sum of size() over records
}

type memoryRecord struct {
	Record
	token string
}

// size estimates the memory a record holds, for the byte budget.
func (r *memoryRecord) size() int64 {
	n := len(r.Key) + len(r.Fingerprint) + len(r.token) + len(r.Response.Body) + 64
	for k, vs := range r.Response.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return int64(n)
}

// MemoryOption configures a [MemoryStore].
type MemoryOption func(*MemoryStore)

// WithMaxRecords bounds the number of live records, overriding the default
// 100000. It must be positive.
func WithMaxRecords(n int) MemoryOption {
	return func(s *MemoryStore) { s.maxRecords = n }
}

// WithMaxBytes bounds the memory held by live records (keys, fingerprints,
// stored headers and bodies), overriding the default 64 MiB. It must be
// positive. A Complete that crosses the bound is still stored; later
// Begins get [ErrFull] until records expire.
func WithMaxBytes(n int64) MemoryOption {
	return func(s *MemoryStore) { s.maxBytes = n }
}

// NewMemoryStore returns an empty [MemoryStore]. It returns an error if an
// option is out of range.
func NewMemoryStore(opts ...MemoryOption) (*MemoryStore, error) {
	s := &MemoryStore{
		maxRecords: 100_000,
		maxBytes:   64 << 20,
		records:    make(map[string]*memoryRecord),
	}
	for _, o := range opts {
		o(s)
	}
	if s.maxRecords <= 0 {
		return nil, fmt.Errorf("idempotency: max records %d is not positive", s.maxRecords)
	}
	if s.maxBytes <= 0 {
		return nil, fmt.Errorf("idempotency: max bytes %d is not positive", s.maxBytes)
	}
	return s, nil
}

var _ Store = (*MemoryStore)(nil)

// Begin implements [Store.Begin].
func (s *MemoryStore) Begin(ctx context.Context, key, fingerprint string, lockTTL time.Duration) (Claim, error) {
	if err := ctx.Err(); err != nil {
		return Claim{}, fmt.Errorf("idempotency: begin: %w", err)
	}
	if key == "" {
		return Claim{}, errors.New("idempotency: begin: empty key")
	}
	if fingerprint == "" {
		return Claim{}, errors.New("idempotency: begin: empty fingerprint")
	}
	if lockTTL <= 0 {
		return Claim{}, fmt.Errorf("idempotency: begin: lock ttl %v is not positive", lockTTL)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.live(key, now); r != nil {
		return Claim{Record: r.copyRecord()}, nil
	}
	if len(s.records) >= s.maxRecords || s.bytes >= s.maxBytes {
		s.sweep(now)
		if len(s.records) >= s.maxRecords || s.bytes >= s.maxBytes {
			return Claim{}, fmt.Errorf("idempotency: begin: %w (%d records, %d bytes)", ErrFull, len(s.records), s.bytes)
		}
	}
	r := &memoryRecord{
		Record: Record{Key: key, Fingerprint: fingerprint, State: InFlight, ExpiresAt: now.Add(lockTTL)},
		token:  rand.Text(),
	}
	s.put(r)
	return Claim{Acquired: true, Token: r.token, Record: r.copyRecord()}, nil
}

// Complete implements [Store.Complete].
func (s *MemoryStore) Complete(ctx context.Context, key, token string, res Response, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	if ttl <= 0 {
		return fmt.Errorf("idempotency: complete: ttl %v is not positive", ttl)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.owned(key, token, now)
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	s.drop(r)
	done := &memoryRecord{Record: Record{
		Key:         key,
		Fingerprint: r.Fingerprint,
		State:       Completed,
		Response:    res.Clone(),
		ExpiresAt:   now.Add(ttl),
	}}
	s.put(done)
	return nil
}

// Release implements [Store.Release].
func (s *MemoryStore) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.owned(key, token, now)
	if err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	s.drop(r)
	return nil
}

// Get implements [Store.Get].
func (s *MemoryStore) Get(ctx context.Context, key string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("idempotency: get: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(key, time.Now())
	if r == nil {
		return Record{}, fmt.Errorf("idempotency: get: %w", ErrNotFound)
	}
	return r.copyRecord(), nil
}

// live returns the live record of key, dropping it if it expired.
// s.mu must be held.
func (s *MemoryStore) live(key string, now time.Time) *memoryRecord {
	r, ok := s.records[key]
	if !ok {
		return nil
	}
	if !now.Before(r.ExpiresAt) {
		s.drop(r)
		return nil
	}
	return r
}

// owned returns the live in-flight record of key if token holds it.
// s.mu must be held.
func (s *MemoryStore) owned(key, token string, now time.Time) (*memoryRecord, error) {
	r := s.live(key, now)
	if r == nil || r.State != InFlight || token == "" || r.token != token {
		return nil, ErrLockLost
	}
	return r, nil
}

// sweep drops every expired record. s.mu must be held.
func (s *MemoryStore) sweep(now time.Time) {
	for _, r := range s.records {
		if !now.Before(r.ExpiresAt) {
			s.drop(r)
		}
	}
}

func (s *MemoryStore) put(r *memoryRecord) {
	s.records[r.Key] = r
	s.bytes += r.size()
}

func (s *MemoryStore) drop(r *memoryRecord) {
	delete(s.records, r.Key)
	s.bytes -= r.size()
}

func (r *memoryRecord) copyRecord() Record {
	out := r.Record
	out.Response = r.Response.Clone()
	return out
}
