package idempotency_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keiyaku/keiyaku/runtime/idempotency"
	"github.com/keiyaku/keiyaku/runtime/idempotency/idempotencytest"
)

// TestMemoryStore pins that MemoryStore keeps every promise of the Store
// interface (the shared conformance suite).
func TestMemoryStore(t *testing.T) {
	t.Parallel()
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		s, err := idempotency.NewMemoryStore()
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestNewMemoryStoreOptions pins that out-of-range options are errors, not
// panics or silent defaults.
func TestNewMemoryStoreOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []idempotency.MemoryOption
		ok   bool
	}{
		{"defaults", nil, true},
		{"max records", []idempotency.MemoryOption{idempotency.WithMaxRecords(1)}, true},
		{"zero max records", []idempotency.MemoryOption{idempotency.WithMaxRecords(0)}, false},
		{"negative max bytes", []idempotency.MemoryOption{idempotency.WithMaxBytes(-1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := idempotency.NewMemoryStore(tc.opts...)
			if (err == nil) != tc.ok || (s != nil) != tc.ok {
				t.Errorf("NewMemoryStore: store %v, err %v; want ok=%v", s, err, tc.ok)
			}
		})
	}
}

// TestMemoryStoreBounded pins that the store refuses new keys with ErrFull
// once full, and takes them again when records expire — memory stays
// bounded whatever clients send.
func TestMemoryStoreBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  idempotency.MemoryOption
	}{
		{"records", idempotency.WithMaxRecords(3)},
		{"bytes", idempotency.WithMaxBytes(3 * (64 + 20 + 3 + 26))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s, err := idempotency.NewMemoryStore(tc.opt)
				if err != nil {
					t.Fatal(err)
				}
				ctx := t.Context()
				full := -1
				for i := range 10 {
					_, err := s.Begin(ctx, fmt.Sprintf("key-%015d", i), "fpx", time.Minute)
					if errors.Is(err, idempotency.ErrFull) {
						full = i
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if full < 1 {
					t.Fatalf("store never full (or full at once): first ErrFull at %d", full)
				}
				time.Sleep(time.Minute)
				if c, err := s.Begin(ctx, "after-expiry", "fpx", time.Minute); err != nil || !c.Acquired {
					t.Errorf("Begin after the records expired: %+v, %v; want acquired", c, err)
				}
			})
		})
	}
}
