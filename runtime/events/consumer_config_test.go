package events_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
)

// TestNewConsumerRejectsBadInput pins NewConsumer's checks: a client that
// would auto-commit unhandled records, let a partition move while it is
// being handled, or has no group or topics, and bad options, are errors
// naming the problem.
func TestNewConsumerRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	c := memoryCodec(t)
	client := func(opts ...kgo.Opt) *kgo.Client { return newClient(t, b, opts...) }
	good := consumerClient(t, b, "g", "t")
	tests := []struct {
		name   string
		client *kgo.Client
		codec  codec.Codec
		opts   []events.ConsumerOption
		want   string
	}{
		{"nil client", nil, c, nil, "nil client"},
		{"nil codec", good, nil, nil, "nil codec"},
		{"no group", client(kgo.ConsumeTopics("t")), c, nil, "no consumer group"},
		{"auto commit", client(kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"), kgo.BlockRebalanceOnPoll()), c, nil, "DisableAutoCommit"},
		{"rebalance not blocked", client(kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"), kgo.DisableAutoCommit()), c, nil, "BlockRebalanceOnPoll"},
		{"no topics", client(kgo.ConsumerGroup("g"), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll()), c, nil, "no topics"},
		{"nil option", good, c, []events.ConsumerOption{nil}, "nil option"},
		{"negative attempts", good, c, []events.ConsumerOption{events.WithMaxAttempts(-1)}, "max attempts -1"},
		{"bad backoff", good, c, []events.ConsumerOption{events.WithRetryBackoff(time.Second, time.Millisecond)}, "retry backoff"},
		{"zero backoff", good, c, []events.ConsumerOption{events.WithRetryBackoff(0, time.Second)}, "retry backoff"},
		{"zero concurrency", good, c, []events.ConsumerOption{events.WithConcurrency(0)}, "concurrency 0"},
		{"zero poll", good, c, []events.ConsumerOption{events.WithMaxPollRecords(0)}, "max poll records 0"},
		{"zero drain", good, c, []events.ConsumerOption{events.WithDrainTimeout(0)}, "drain timeout"},
		{"nil dlq func", good, c, []events.ConsumerOption{events.WithDeadLetterTopic(nil)}, "nil dead-letter"},
		{"dlq is the topic", good, c, []events.ConsumerOption{events.WithDeadLetterTopic(func(t string) string { return t })}, `dead-letter topic of "t"`},
		{"empty dlq", good, c, []events.ConsumerOption{events.WithDeadLetterTopic(func(string) string { return "" })}, `dead-letter topic of "t"`},
		{"nil processed", good, c, []events.ConsumerOption{events.WithIdempotency(nil)}, "nil Processed"},
		{"nil logger", good, c, []events.ConsumerOption{events.WithLogger(nil)}, "nil logger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.NewConsumer(tt.client, tt.codec, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewConsumer error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestRunRejectsBadRegistrations pins that a consumer with no handler, a
// handler registered twice or an invalid registration does not start
// consuming (it would commit records nobody handled) and that Run runs
// once.
func TestRunRejectsBadRegistrations(t *testing.T) {
	t.Parallel()
	b := newBroker(t, embedded.Topic{Name: orderTopic, Partitions: 1})
	c := memoryCodec(t)
	noop := func(context.Context, events.Envelope, *OrderPlaced) error { return nil }
	noSchema := orderType(orderTopic)
	noSchema.Schema = nil
	tests := []struct {
		name     string
		register func(*events.Consumer)
		want     string
	}{
		{"none", func(*events.Consumer) {}, "no handler registered"},
		{"twice", func(c *events.Consumer) {
			events.Handle(c, orderType(orderTopic), noop)
			events.Handle(c, orderType("elsewhere"), noop)
		}, "registered twice"},
		{"nil handler", func(c *events.Consumer) { events.Handle(c, orderType(orderTopic), nil) }, "nil handler"},
		{"nil schema", func(c *events.Consumer) { events.Handle(c, noSchema, noop) }, "nil Schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cons, err := events.NewConsumer(consumerClient(t, b, "reg-"+tt.name, orderTopic), c)
			must(t, err)
			tt.register(cons)
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			err = cons.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run error = %v, want it to contain %q", err, tt.want)
			}
			if err := cons.Run(ctx); err == nil || !strings.Contains(err.Error(), "already ran") {
				t.Fatalf("second Run error = %v, want already ran", err)
			}
		})
	}
}
