package dlq_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/tools/internal/command/dlq"
)

type booked struct {
	ID string `avro:"id"`
}

var bookedType = events.Type[booked]{
	Name:  "keiyaku.dlqtest.v1.Booked",
	Topic: "bookings",
	Schema: codec.MustSchema(`{"type": "record", "name": "Booked", "namespace": "keiyaku.dlqtest.v1",
		"fields": [{"name": "id", "type": "string"}]}`),
	Key: func(b *booked) string { return b.ID },
}

// TestReplay pins issue 14 finding 2's re-drive: an event its handler
// refused as permanent lands in the group's dead-letter topic; after the
// fix, "keiyaku dlq replay" sends it back to its topic with the same ce_id
// and the consumer handles it; a second replay sends nothing, and
// "inspect" shows the record with its group and error.
func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const group = "bookers"
	b, err := embedded.Start(ctx, embedded.WithTopics(embedded.Topic{Name: bookedType.Topic, Partitions: 2}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	seeds := kgo.SeedBrokers(b.Addrs()...)
	c, err := codec.NewSingleObject(codec.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	pcl, err := kgo.NewClient(append(events.ProducerClientOptions(), seeds)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pcl.Close)
	p, err := events.NewProducer(pcl, c, "/services/test")
	if err != nil {
		t.Fatal(err)
	}
	ccl, err := kgo.NewClient(append(events.ConsumerClientOptions(group, bookedType.Topic), seeds)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ccl.CloseAllowingRebalance)
	cons, err := events.NewConsumer(ccl, c, events.WithIdempotency(events.NewMemoryProcessed()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	fixed := false
	var handled []string
	events.Handle(cons, bookedType, func(_ context.Context, env events.Envelope, evt *booked) error {
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			return events.Permanent(errors.New("room type unknown"))
		}
		handled = append(handled, env.ID)
		return nil
	})
	runCtx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- cons.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-errc })

	rec, err := events.NewRecord(ctx, p, bookedType, &booked{ID: "b-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, h := range rec.Headers {
		if h.Key == events.HeaderID {
			id = string(h.Value)
		}
	}
	dlqTopic := events.DeadLetterTopic(bookedType.Topic, group)
	brokers := strings.Join(b.Addrs(), ",")
	try := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := dlq.NewCommand("dlq")
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--brokers", brokers))
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := try(args...)
		if err != nil {
			t.Fatalf("dlq %v: %v\n%s", args, err, out)
		}
		return out
	}
	waitFor(t, "the refused event in the dead-letter topic", func() bool {
		out, err := try("inspect", dlqTopic) // fails until the consumer created the topic
		return err == nil && strings.Contains(out, "1 records")
	})
	out := run("inspect", dlqTopic)
	for _, want := range []string{"id=" + id, "group=" + group, "permanent: room type unknown", "from bookings/"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}

	mu.Lock()
	fixed = true
	mu.Unlock()
	if out := run("replay", dlqTopic); !strings.Contains(out, "1 records replayed") {
		t.Errorf("first replay:\n%s", out)
	}
	waitFor(t, "the replayed event to be handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 1
	})
	if out := run("replay", dlqTopic); !strings.Contains(out, "0 records replayed") {
		t.Errorf("second replay sent records again:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 1 || handled[0] != id {
		t.Errorf("handled %v, want the original ce_id %s once", handled, id)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
