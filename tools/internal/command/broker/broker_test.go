package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/tools/internal/command"
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

// TestEnforce pins --enforce: on a contract topic the broker refuses a
// record that is not an event of the contract (no CloudEvents headers, or
// a value whose schema is not the topic's) and accepts one built from the
// generated types; other topics are not checked.
func TestEnforce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	cmd := command.New("keiyaku")
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--config", workspace, "broker", "--memory", "--enforce", "--addr", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	var seeds string
	for seeds == "" && sc.Scan() {
		seeds, _ = strings.CutPrefix(sc.Text(), "KAFKA_BROKERS=")
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if seeds == "" {
		t.Fatal("no KAFKA_BROKERS line")
	}
	cl := client(t, seeds, kgo.RecordRetries(1))

	c, err := codec.NewSingleObject(codec.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	p, err := events.NewProducer(cl, c, "/services/test")
	if err != nil {
		t.Fatal(err)
	}
	good, err := events.NewRecord(t.Context(), p, reservationv1.ReservationCreatedEvent, &reservationv1.ReservationCreated{
		ReservationID: "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70", MemberID: "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f71",
		RoomID: "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f72", Guests: 1, CreatedAt: time.Now(),
		TotalPrice: reservationv1.Money{Amount: big.NewRat(36000, 1), Currency: "JPY"},
		CheckIn:    time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), CheckOut: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	otherSchema := *good
	otherSchema.Value = append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, good.Value[10:]...)
	tests := []struct {
		name    string
		rec     *kgo.Record
		wantErr string
	}{
		{"event of the contract", good, ""},
		{"garbage", &kgo.Record{Topic: contractTopic, Value: []byte("garbage from kcat")}, "not a keiyaku event"},
		{"unknown schema", &otherSchema, "none of the topic's message schemas"},
		{"other topic", &kgo.Record{Topic: autoTopic, Value: []byte("anything")}, ""},
	}
	for _, tt := range tests {
		err := cl.ProduceSync(t.Context(), tt.rec).FirstErr()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), "INVALID_RECORD")):
			t.Errorf("%s: %v, want INVALID_RECORD", tt.name, err)
		}
	}
}
