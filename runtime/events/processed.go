package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Processed records which events a consumer has processed, so that a
// redelivered event changes nothing (effectively-once on top of Kafka's
// at-least-once delivery). See [WithIdempotency].
//
// Process runs fn and records eventID, atomically: either fn succeeded and
// the id is recorded, or fn failed, nothing is recorded and Process returns
// fn's error. If eventID is recorded already, Process returns done=true
// without running fn. Two concurrent calls with the same id must not both
// run fn. Implementations must be safe for concurrent use.
//
// A database-backed implementation runs fn inside the transaction that
// records the id and passes that transaction in the context given to fn,
// so the handler's own writes commit or roll back together with the id.
// Handlers should therefore use the context they are given for their
// database work.
type Processed interface {
	Process(ctx context.Context, eventID string, fn func(ctx context.Context) error) (done bool, err error)
}

// DefaultMemoryProcessedSize is how many event ids a [MemoryProcessed]
// remembers unless [NewMemoryProcessed] is given another size.
const DefaultMemoryProcessedSize = 100_000

// MemoryProcessed is a [Processed] held in the memory of one process. It
// remembers the most recent ids only — at most its size, forgetting the
// oldest first — and forgets everything when the process ends, so it
// suits tests, the embedded demo and handlers whose effects are in memory
// too. It is safe for concurrent use; calls with different ids run
// concurrently, calls with the same id one after the other.
type MemoryProcessed struct {
	mu    sync.Mutex // guards all below and processing.recorded, waiters
	size  int
	ids   map[string]*processing
	order []string // ring of recorded ids; when full, the oldest is at next
	next  int
}

// processing is the state of one id.
type processing struct {
	run      chan struct{} // a token held while fn runs, so one call at a time runs it
	recorded bool
	waiters  int
}

// NewMemoryProcessed returns an empty MemoryProcessed that remembers up to
// [DefaultMemoryProcessedSize] ids.
func NewMemoryProcessed() *MemoryProcessed {
	m, _ := NewMemoryProcessedSize(DefaultMemoryProcessedSize)
	return m
}

// NewMemoryProcessedSize returns an empty MemoryProcessed that remembers up
// to size ids. A size below 1 is an error.
func NewMemoryProcessedSize(size int) (*MemoryProcessed, error) {
	if size < 1 {
		return nil, fmt.Errorf("new memory processed: size %d: must be at least 1", size)
	}
	return &MemoryProcessed{size: size, ids: make(map[string]*processing)}, nil
}

// Process implements [Processed]. A call that waits for another call with
// the same id returns ctx's error if ctx ends first. An empty eventID or a
// nil fn is an error.
func (m *MemoryProcessed) Process(ctx context.Context, eventID string, fn func(ctx context.Context) error) (bool, error) {
	if eventID == "" {
		return false, errors.New("process: empty event id")
	}
	if fn == nil {
		return false, errors.New("process: nil func")
	}
	m.mu.Lock()
	p, ok := m.ids[eventID]
	if !ok {
		p = &processing{run: make(chan struct{}, 1)}
		m.ids[eventID] = p
	}
	p.waiters++
	m.mu.Unlock()

	var err error
	select {
	case p.run <- struct{}{}:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.releaseLocked(eventID, p)
		return false, err
	}
	defer func() { <-p.run }()
	m.mu.Lock()
	recorded := p.recorded
	m.mu.Unlock()
	if !recorded {
		err = fn(ctx)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if !recorded && err == nil {
		p.recorded = true
		m.recordLocked(eventID)
	}
	m.releaseLocked(eventID, p)
	return recorded, err
}

// releaseLocked drops a caller's interest in an id; an id that nobody
// waits for and that is not recorded is forgotten.
func (m *MemoryProcessed) releaseLocked(id string, p *processing) {
	p.waiters--
	if p.waiters == 0 && !p.recorded && m.ids[id] == p {
		delete(m.ids, id)
	}
}

// recordLocked appends id to the ring, forgetting the oldest recorded id
// when the ring is full. Callers still holding the forgotten entry see it
// recorded and report done; later calls start afresh.
func (m *MemoryProcessed) recordLocked(id string) {
	if len(m.order) < m.size {
		m.order = append(m.order, id)
		return
	}
	delete(m.ids, m.order[m.next])
	m.order[m.next] = id
	m.next = (m.next + 1) % m.size
}

// Len returns how many event ids m remembers.
func (m *MemoryProcessed) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}
