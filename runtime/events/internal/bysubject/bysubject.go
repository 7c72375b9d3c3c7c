// Package bysubject holds values by Schema Registry subject for one writer
// schema: the codec's registry ids, the producer's ce_dataschema URIs.
package bysubject

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Map holds values by subject ("" standing for the one the codec's
// strategy names). Get takes no lock and does not allocate: Put replaces
// the map, never changes it. A Map is safe for concurrent use; the zero
// Map is empty and ready.
type Map[V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]V]
}

// Get returns the value of subject.
func (b *Map[V]) Get(subject string) (V, bool) {
	if m := b.m.Load(); m != nil {
		v, ok := (*m)[subject]
		return v, ok
	}
	var zero V
	return zero, false
}

// Put sets the value of subject.
func (b *Map[V]) Put(subject string, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := map[string]V{subject: v}
	if old := b.m.Load(); old != nil {
		maps.Copy(m, *old)
		m[subject] = v
	}
	b.m.Store(&m)
}
