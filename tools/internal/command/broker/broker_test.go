package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
)

// workspace is the repository's own keiyaku.yaml: the broker creates the
// topics of its contracts.
var workspace = filepath.Join("..", "..", "..", "..", "keiyaku.yaml")

const (
	contractTopic = "hotel.reservation.events.v1"
	autoTopic     = "scratch.created-on-first-use"
)

// TestSurvivesSIGKILL pins issue 14 findings 4 and 6: "keiyaku broker",
// run as its own process, creates the contract topics and their
// dead-letter topics, and after a SIGKILL a broker started on the same
// folder still has every topic — also one created on first use — every
// acknowledged record and the committed offsets.
func TestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the keiyaku binary")
	}
	bin := filepath.Join(t.TempDir(), "keiyaku")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/keiyaku/keiyaku/tools/keiyaku")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()

	cmd, seeds := startBroker(t, bin, dir)
	cl := client(t, seeds)
	ctx := t.Context()
	var want []string
	for i := range 100 {
		v := fmt.Sprintf("event-%d", i)
		want = append(want, v)
		// ProduceSync returns once the broker acknowledged (acks=all).
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: contractTopic, Key: []byte(v), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: autoTopic, Value: []byte("auto")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	commit := kadm.Offsets{}
	commit.AddOffset(autoTopic, 0, 1, -1)
	if err := adm.CommitAllOffsets(ctx, "survivor", commit); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no clean shutdown
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, seeds = startBroker(t, bin, dir)
	cl = client(t, seeds)
	adm = kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		contractTopic, autoTopic,
		events.DeadLetterTopic(contractTopic, "member.reservation-history"),
		events.DeadLetterTopic(contractTopic, "room.availability"),
		events.DeadLetterTopic(contractTopic, "notification.reservation-notices"),
	} {
		if !topics.Has(name) {
			t.Errorf("topic %s missing after SIGKILL and restart; have %v", name, topics.Names())
		}
	}
	if n := len(topics[contractTopic].Partitions); n != 6 {
		t.Errorf("%s has %d partitions, want the 6 of its binding", contractTopic, n)
	}
	got := map[string]bool{}
	for _, r := range readAll(t, seeds, contractTopic, len(want)) {
		got[string(r.Value)] = true
	}
	for _, v := range want {
		if !got[v] {
			t.Errorf("acknowledged record %s lost", v)
		}
	}
	if r := readAll(t, seeds, autoTopic, 1); string(r[0].Value) != "auto" {
		t.Errorf("record of the auto-created topic = %q", r[0].Value)
	}
	offs, err := adm.FetchOffsets(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(autoTopic, 0); !ok || o.At != 1 {
		t.Errorf("committed offset after restart = %+v, want 1", o)
	}
}

// startBroker runs the broker on dir and returns it with its address,
// read from the KAFKA_BROKERS line. It is killed when the test ends.
func startBroker(t *testing.T, bin, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "--config", workspace, "broker", "--addr", "127.0.0.1:0", "--data-dir", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "KAFKA_BROKERS="); ok {
				lines <- v
			}
		}
		close(lines)
	}()
	select {
	case seeds, ok := <-lines:
		if !ok {
			t.Fatalf("broker exited without a KAFKA_BROKERS line: %s", stderr.String())
		}
		return cmd, seeds
	case <-time.After(time.Minute):
		t.Fatalf("no KAFKA_BROKERS line within a minute: %s", stderr.String())
	}
	return nil, ""
}

func client(t *testing.T, seeds string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func readAll(t *testing.T, seeds, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := client(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %d of %d records", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
