package resilience

import (
	"sync"
	"time"
)

// budgetBuckets is the number of buckets of the budget's sliding window; the
// window slides in steps of window/budgetBuckets.
const budgetBuckets = 10

// minBudgetWindow is the shortest window WithRetryBudget accepts.
const minBudgetWindow = 100 * time.Millisecond

// budget bounds retries to a share of calls over a sliding window:
// a retry is allowed while retries+1 ≤ max(ratio·calls, floor), both counted
// over the last window, where floor = minPerSecond·window.
//
// The floor is a floor, not an addition: under load the ratio alone binds,
// so a dependency that fails every request sees at most (1+ratio)× the
// calls; a quiet client (fewer than minPerSecond/ratio calls a second) may
// still retry up to minPerSecond times a second. Finagle's RetryBudget adds
// the two instead, which lets a busy client exceed the ratio by the floor.
//
// A budget is safe for concurrent use.
type budget struct {
	ratio     float64
	floor     float64
	bucketDur time.Duration
	start     time.Time // monotonic origin of the bucket slots

	mu      sync.Mutex
	slot    int64 // slot of the current bucket: time since start / bucketDur
	buckets [budgetBuckets]struct{ calls, retries int64 }
	calls   int64 // sum over buckets
	retries int64 // sum over buckets
}

func newBudget(ratio, minPerSecond float64, window time.Duration) *budget {
	return &budget{
		ratio:     ratio,
		floor:     minPerSecond * window.Seconds(),
		bucketDur: window / budgetBuckets,
		start:     time.Now(),
	}
}

// advance moves the window to now, dropping the buckets that left it.
// b.mu must be held.
func (b *budget) advance() {
	slot := int64(time.Since(b.start) / b.bucketDur)
	if slot <= b.slot {
		return
	}
	from := max(b.slot+1, slot-budgetBuckets+1)
	for s := from; s <= slot; s++ {
		bk := &b.buckets[s%budgetBuckets]
		b.calls -= bk.calls
		b.retries -= bk.retries
		bk.calls, bk.retries = 0, 0
	}
	b.slot = slot
}

// call records one call.
func (b *budget) call() {
	b.mu.Lock()
	b.advance()
	b.buckets[b.slot%budgetBuckets].calls++
	b.calls++
	b.mu.Unlock()
}

// retry reports whether one more retry fits the budget, and if so records
// it.
func (b *budget) retry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	if float64(b.retries+1) > max(b.ratio*float64(b.calls), b.floor) {
		return false
	}
	b.buckets[b.slot%budgetBuckets].retries++
	b.retries++
	return true
}
