package embedded_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// start starts a broker and closes it when the test ends.
func start(t *testing.T, opts ...embedded.Option) *embedded.Broker {
	t.Helper()
	b, err := embedded.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func newClient(t *testing.T, b *embedded.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestStartServesKafkaOverTCP pins the promise that the broker speaks the
// Kafka protocol on a real TCP port: a plain kgo client, in another
// goroutine and knowing nothing but the address, produces and then consumes
// the same record.
func TestStartServesKafkaOverTCP(t *testing.T) {
	t.Parallel()
	b := start(t, embedded.WithTopics(embedded.Topic{Name: "orders", Partitions: 3}))
	addrs := b.Addrs()
	if len(addrs) != 1 {
		t.Fatalf("Addrs() = %v, want one address", addrs)
	}
	if _, err := net.ResolveTCPAddr("tcp", addrs[0]); err != nil || strings.HasSuffix(addrs[0], ":0") {
		t.Fatalf("Addrs() = %v, want a dialable host:port", addrs)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
		if err != nil {
			errc <- err
			return
		}
		defer cl.Close()
		errc <- cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Key: []byte("k"), Value: []byte("hello")}).FirstErr()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("produce from another goroutine: %v", err)
	}

	cl := newClient(t, b, kgo.ConsumeTopics("orders"))
	fetches := cl.PollRecords(ctx, 1)
	if err := fetches.Err0(); err != nil {
		t.Fatalf("poll: %v", err)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Value) != "hello" || string(recs[0].Key) != "k" {
		t.Fatalf("consumed %v, want the one record produced", recs)
	}
}

// TestStartCreatesTopics pins the topics a started broker has: the seeded
// ones with their partition counts, the compacted schema topic, and topics
// created on first use (dead-letter topics) when the client allows it.
func TestStartCreatesTopics(t *testing.T) {
	t.Parallel()
	b := start(t,
		embedded.WithTopics(embedded.Topic{Name: "a", Partitions: 4}),
		embedded.WithTopics(embedded.Topic{Name: "b.v1", Partitions: 1}, embedded.Topic{Name: "a", Partitions: 4}),
		embedded.WithAutoTopicPartitions(2),
	)
	ctx := t.Context()
	cl := newClient(t, b, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "a.dlq", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to a topic made on first use: %v", err)
	}
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	want := map[string]int{"a": 4, "b.v1": 1, "a.dlq": 2, embedded.SchemaTopic: 1}
	for name, parts := range want {
		d, ok := details[name]
		if !ok {
			t.Errorf("topic %q missing; have %v", name, details.Names())
			continue
		}
		if len(d.Partitions) != parts {
			t.Errorf("topic %q has %d partitions, want %d", name, len(d.Partitions), parts)
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, embedded.SchemaTopic)
	if err != nil {
		t.Fatalf("DescribeTopicConfigs: %v", err)
	}
	rc, err := cfgs.On(embedded.SchemaTopic, nil)
	if err != nil {
		t.Fatalf("configs of %s: %v", embedded.SchemaTopic, err)
	}
	var policy string
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if policy != "compact" {
		t.Errorf("%s cleanup.policy = %q, want compact", embedded.SchemaTopic, policy)
	}
}

// TestStartContractTopics pins that the topics of generated contracts are
// created with at least one partition: a Kafka binding without a partition
// count (0 in TopicPartitions) gives 1, and a topic in several contracts
// gets the largest count (issue 13: 0 partitions failed the start).
func TestStartContractTopics(t *testing.T) {
	t.Parallel()
	b := start(t, embedded.WithContractTopics(
		map[string]int32{"orders.items.v1": 0, "shared.v1": 2},
		map[string]int32{"shared.v1": 3},
	))
	details, err := kadm.NewClient(newClient(t, b)).ListTopics(t.Context())
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	for name, parts := range map[string]int{"orders.items.v1": 1, "shared.v1": 3} {
		if d, ok := details[name]; !ok || len(d.Partitions) != parts {
			t.Errorf("topic %q: present %v, %d partitions, want %d", name, ok, len(d.Partitions), parts)
		}
	}
}

// TestStartRejectsBadInput pins that bad options are errors that name the
// problem, never a panic or a half-started broker.
func TestStartRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []embedded.Option
		want string
	}{
		{"no port", []embedded.Option{embedded.WithAddr("127.0.0.1")}, "missing port"},
		{"no host", []embedded.Option{embedded.WithAddr(":9092")}, "missing host"},
		{"bad port", []embedded.Option{embedded.WithAddr("127.0.0.1:99999")}, "bad port"},
		{"empty topic", []embedded.Option{embedded.WithTopics(embedded.Topic{Partitions: 1})}, "topic name is empty"},
		{"dot topic", []embedded.Option{embedded.WithTopics(embedded.Topic{Name: "..", Partitions: 1})}, "not a valid name"},
		{"bad char", []embedded.Option{embedded.WithTopics(embedded.Topic{Name: "a/b", Partitions: 1})}, `character '/'`},
		{"long name", []embedded.Option{embedded.WithTopics(embedded.Topic{Name: strings.Repeat("x", 250), Partitions: 1})}, "longer than 249"},
		{"zero partitions", []embedded.Option{embedded.WithTopics(embedded.Topic{Name: "a"})}, "must be at least 1"},
		{"conflicting partitions", []embedded.Option{embedded.WithTopics(embedded.Topic{Name: "a", Partitions: 1}, embedded.Topic{Name: "a", Partitions: 2})}, "given with 1 and 2 partitions"},
		{"schema topic", []embedded.Option{embedded.WithTopics(embedded.Topic{Name: embedded.SchemaTopic, Partitions: 1})}, "reserved"},
		{"auto partitions", []embedded.Option{embedded.WithAutoTopicPartitions(0)}, "must be at least 1"},
		{"nil logger", []embedded.Option{embedded.WithLogger(nil)}, "nil logger"},
		{"nil option", []embedded.Option{nil}, "nil option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := embedded.Start(t.Context(), tt.opts...)
			if err == nil {
				b.Close()
				t.Fatalf("Start succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestStartFixedAddr pins the fixed-address mode of the demo: the broker
// listens on exactly the address given, and a second broker on the same
// address fails with an error instead of listening elsewhere.
func TestStartFixedAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	b := start(t, embedded.WithAddr(addr))
	if got := b.Addrs(); len(got) != 1 || got[0] != addr {
		t.Fatalf("Addrs() = %v, want [%s]", got, addr)
	}
	b2, err := embedded.Start(t.Context(), embedded.WithAddr(addr))
	if err == nil {
		b2.Close()
		t.Fatalf("second Start on %s succeeded, want address-in-use error", addr)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("second Start error = %v, want a *net.OpError", err)
	}
}

// TestDataDirKeepsRecords pins WithDataDir: a broker started again on the
// same folder still has the topic and the record produced before Close.
func TestDataDirKeepsRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	topics := embedded.WithTopics(embedded.Topic{Name: "kept", Partitions: 1})

	b, err := embedded.Start(ctx, embedded.WithDataDir(dir), topics)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "kept", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.Close()
	b.Close()
	b.Close() // idempotent

	b = start(t, embedded.WithDataDir(dir), topics)
	cl = newClient(t, b, kgo.ConsumeTopics("kept"))
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fetches := cl.PollRecords(pctx, 1)
	if err := fetches.Err0(); err != nil {
		t.Fatalf("poll after restart: %v", err)
	}
	if recs := fetches.Records(); len(recs) != 1 || string(recs[0].Value) != "v" {
		t.Fatalf("after restart consumed %v, want the record produced before", recs)
	}
}
