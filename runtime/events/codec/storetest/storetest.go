// Package storetest is the conformance suite that every
// [codec.SchemaStore] implementation must pass.
//
// A store's test calls [Run] with a function that returns a fresh pair of
// store handles:
//
//	func TestTopicStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Stores {
//			// two clients of one cluster, as two processes would hold
//			return storetest.Stores{Writer: a, Reader: b}
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/events/codec"
)

// Stores are the two ends of a store under test: Writer Puts and Reader
// Gets. For a shared store they should be separate instances built the way
// two processes would build them; for an in-memory store they are the same
// value.
type Stores struct {
	Writer, Reader codec.SchemaStore
}

// Run runs the conformance suite as parallel subtests of t. newStores is
// called once per subtest and must return stores that share no schemas with
// those of earlier calls.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s Stores)
	}{
		{"UnknownFingerprint", unknownFingerprint},
		{"PutThenGet", putThenGet},
		{"PutTwice", putTwice},
		{"PutNil", putNil},
		{"DistinctSchemas", distinctSchemas},
		{"GetAfterMiss", getAfterMiss},
		{"Concurrent", concurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStores(t))
		})
	}
}

// schema returns a distinct record schema for each n.
func schema(t *testing.T, n int) *codec.Schema {
	t.Helper()
	s, err := codec.NewSchema(fmt.Sprintf(`{"type":"record","name":"Probe%d","namespace":"storetest.v1",
		"doc":"conformance probe","fields":[{"name":"id","type":"string"},{"name":"n%d","type":"long","default":0}]}`, n, n))
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	return s
}

func get(t *testing.T, ctx context.Context, st codec.SchemaStore, want *codec.Schema) {
	t.Helper()
	got, err := st.Get(ctx, want.Fingerprint())
	if err != nil {
		t.Fatalf("Get(%016x): %v", want.Fingerprint(), err)
	}
	if got.Fingerprint() != want.Fingerprint() || got.FullName() != want.FullName() || got.String() != want.String() {
		t.Fatalf("Get(%016x) = %s %016x %q, want %s %016x %q", want.Fingerprint(),
			got.FullName(), got.Fingerprint(), got.String(), want.FullName(), want.Fingerprint(), want.String())
	}
}

// unknownFingerprint pins that a missing schema is ErrUnknownSchema, not
// some other error and not a hang.
func unknownFingerprint(t *testing.T, s Stores) {
	_, err := s.Reader.Get(t.Context(), 0x0123456789abcdef)
	if !errors.Is(err, codec.ErrUnknownSchema) {
		t.Fatalf("Get(unknown) error = %v, want ErrUnknownSchema", err)
	}
}

// putThenGet pins the store's one promise: a schema Put by the writer is
// found by the reader, with its full JSON (defaults and docs) intact.
func putThenGet(t *testing.T, s Stores) {
	want := schema(t, 1)
	if err := s.Writer.Put(t.Context(), want); err != nil {
		t.Fatalf("Put: %v", err)
	}
	get(t, t.Context(), s.Reader, want)
}

// putTwice pins that Put is idempotent.
func putTwice(t *testing.T, s Stores) {
	want := schema(t, 2)
	for range 2 {
		if err := s.Writer.Put(t.Context(), want); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	get(t, t.Context(), s.Reader, want)
}

// putNil pins that a nil schema is an error, not a panic.
func putNil(t *testing.T, s Stores) {
	if err := s.Writer.Put(t.Context(), nil); err == nil {
		t.Fatal("Put(nil) succeeded")
	}
}

// distinctSchemas pins that schemas are kept apart by fingerprint.
func distinctSchemas(t *testing.T, s Stores) {
	a, b := schema(t, 3), schema(t, 4)
	for _, sc := range []*codec.Schema{a, b} {
		if err := s.Writer.Put(t.Context(), sc); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	get(t, t.Context(), s.Reader, b)
	get(t, t.Context(), s.Reader, a)
}

// getAfterMiss pins that a miss is not remembered: a schema Put after a
// reader failed to find it is found by the next Get. A consumer that saw a
// record before its producer's Put became visible must recover on retry.
func getAfterMiss(t *testing.T, s Stores) {
	want := schema(t, 5)
	if _, err := s.Reader.Get(t.Context(), want.Fingerprint()); !errors.Is(err, codec.ErrUnknownSchema) {
		t.Fatalf("Get before Put: error = %v, want ErrUnknownSchema", err)
	}
	if err := s.Writer.Put(t.Context(), want); err != nil {
		t.Fatalf("Put: %v", err)
	}
	get(t, t.Context(), s.Reader, want)
}

// concurrent pins that Put and Get are safe for concurrent use (run with
// -race) and that concurrent Gets of one new schema all find it.
func concurrent(t *testing.T, s Stores) {
	schemas := []*codec.Schema{schema(t, 6), schema(t, 7), schema(t, 8)}
	var wg sync.WaitGroup
	errs := make(chan error, 3*len(schemas))
	for _, sc := range schemas {
		wg.Go(func() { errs <- s.Writer.Put(t.Context(), sc) })
	}
	wg.Wait()
	for _, sc := range schemas {
		for range 2 {
			wg.Go(func() {
				got, err := s.Reader.Get(t.Context(), sc.Fingerprint())
				if err == nil && got.Fingerprint() != sc.Fingerprint() {
					err = fmt.Errorf("Get(%016x) returned %016x", sc.Fingerprint(), got.Fingerprint())
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
