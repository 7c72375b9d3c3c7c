// Package apptest holds what the component tests of Keiyaku services
// share beside the databases of runtime/sqldb/sqldbtest: an embedded Kafka
// broker on loopback, the service running for the length of a test, and
// waiting for asynchronous effects by polling with a deadline instead of
// sleeping.
//
// A component test runs the real service against real parts:
//
//	func TestX(t *testing.T) {
//		for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
//			t.Run(b.Name, func(t *testing.T) {
//				t.Parallel()
//				kafka := apptest.Broker(t, memberv1.TopicPartitions)
//				svc, err := member.New(t.Context(), member.Config{DatabaseURL: b.DSN(t), Kafka: kafka, …})
//				apptest.Run(t, svc)
//				…
//			})
//		}
//	}
package apptest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// EnvPostgresDSN names the variable that, when set to a postgres:// URL,
// makes the component tests run on PostgreSQL too: tests pass its value to
// sqldbtest.Backends (runtime/sqldb/sqldbtest), which gives each test a
// schema of its own. This package does not read it.
const EnvPostgresDSN = "KEIYAKU_TEST_POSTGRES_DSN"

// Broker starts an embedded Kafka broker on loopback with the given
// topics (name → partitions, as in the generated TopicPartitions; 0 means
// 1), closes it when the test ends, and returns how to reach it.
func Broker(t testing.TB, topics ...map[string]int32) app.KafkaConfig {
	t.Helper()
	var ts []embedded.Topic
	for _, m := range topics {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			ts = append(ts, embedded.Topic{Name: name, Partitions: max(m[name], 1)})
		}
	}
	b, err := embedded.Start(context.Background(), embedded.WithTopics(ts...))
	if err != nil {
		t.Fatalf("apptest: start broker: %v", err)
	}
	t.Cleanup(b.Close)
	return app.KafkaConfig{Client: events.ClientConfig{Brokers: b.Addrs()}}
}

// Poll is how often [Wait] checks its condition.
const Poll = 5 * time.Millisecond

// Wait calls cond every [Poll] until it reports true, and fails the test
// (t.Fatalf, naming what) when timeout passes first or cond returns an
// error. It is how tests wait for asynchronous effects without sleeping
// for a fixed time.
func Wait(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(Poll)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not done after %v", what, timeout)
		}
		<-tick.C
	}
}

// Run runs r until the test ends: it cancels r's context in t.Cleanup and
// fails the test if Run returns an error (or had already stopped).
func Run(t testing.TB, r app.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		select {
		case err := <-done:
			t.Errorf("service stopped before the end of the test: %v", err)
			cancel()
			return
		default:
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service Run: %v", err)
		}
	})
}

// Send sends a fresh copy of each record through p, one after the other,
// failing the test on error. Sending a record twice is a redelivery: the
// same key, value and headers, so the same event id.
func Send(t testing.TB, p *app.Producer, recs ...*kgo.Record) {
	t.Helper()
	for _, r := range recs {
		cp := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: slices.Clone(r.Headers)}
		if err := p.Send(context.Background(), cp); err != nil {
			t.Fatalf("apptest: send: %v", err)
		}
	}
}

// WaitCaughtUp waits until consumer group has committed, on every
// partition of topic that holds records, the offset at its end: every
// record produced before the call has been handled (or dead-lettered). It
// fails the test after timeout. Tests use it to know that a redelivered
// event was seen before asserting that it changed nothing.
func WaitCaughtUp(t testing.TB, kafka app.KafkaConfig, group, topic string, timeout time.Duration) {
	t.Helper()
	opts, err := kafka.Client.Options()
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("apptest: end offsets of %s: %v", topic, err)
	}
	Wait(t, timeout, "group "+group+" to catch up on "+topic, func() (bool, error) {
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, nil // the group may not exist yet
		}
		caughtUp := true
		ends.Each(func(end kadm.ListedOffset) {
			if end.Offset <= 0 {
				return
			}
			c, ok := committed.Lookup(end.Topic, end.Partition)
			if !ok || c.Err != nil || c.At < end.Offset {
				caughtUp = false
			}
		})
		return caughtUp, nil
	})
}
