package mock_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/tools/internal/command"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

var configFile = filepath.Join("..", "..", "..", "..", config.FileName)

// start runs keiyaku mock until the test ends and returns the base URL it
// printed for each module.
func start(t *testing.T, args ...string) map[string]string {
	t.Helper()
	return startWith(t, configFile, args...)
}

// startWith is start with another workspace's keiyaku.yaml.
func startWith(t *testing.T, cfgFile string, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r, w := io.Pipe()
	cmd := command.New("keiyaku")
	cmd.SetOut(w)
	cmd.SetErr(w)
	cmd.SetArgs(append([]string{"--config", cfgFile, "mock"}, args...))
	done := make(chan error, 1)
	go func() {
		err := cmd.ExecuteContext(ctx)
		_ = w.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("keiyaku mock: %v", err)
		}
	})
	urls := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "mock ready; interrupt to stop" {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return urls
		}
		if v, ok := strings.CutPrefix(line, "KAFKA_BROKERS="); ok {
			urls["KAFKA_BROKERS"] = v
			continue
		}
		name, url, ok := strings.Cut(line, "\t")
		if name == "topic" {
			urls["topic"] = url
			continue
		}
		if !ok {
			t.Fatalf("unexpected output line %q", line)
		}
		urls[name] = url
	}
	t.Fatalf("keiyaku mock ended before it was ready: %v", sc.Err())
	return nil
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestMockCommand: each module on its own printed port, or all on one
// with a path prefix; the answers come from the contracts.
func TestMockCommand(t *testing.T) {
	urls := start(t, "member", "contracts/room/v1")
	if len(urls) != 2 || urls["member/v1"] == urls["room/v1"] {
		t.Fatalf("urls %v, want member/v1 and room/v1 on two ports", urls)
	}
	if got := status(t, urls["member/v1"]+"/members/3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70"); got != 200 {
		t.Errorf("member: %d", got)
	}
	if got := status(t, urls["room/v1"]+"/rooms/not-a-uuid"); got != 400 {
		t.Errorf("room with a bad id: %d, want 400", got)
	}
	single := start(t, "--single-port", "member", "room")
	if !strings.HasSuffix(single["member/v1"], "/member/v1") || strings.TrimSuffix(single["member/v1"], "/member/v1") != strings.TrimSuffix(single["room/v1"], "/room/v1") {
		t.Fatalf("single port urls %v", single)
	}
	if got := status(t, single["room/v1"]+"/rooms/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"); got != 200 {
		t.Errorf("room below its prefix: %d", got)
	}
}

// TestMockUsageErrors: mistakes on the command line exit 1 with a clear
// message, before anything listens.
func TestMockUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"billing"}, `no module "billing"`},
		{[]string{"member", "room", "--addr", "127.0.0.1:0"}, "2 modules need one port each"},
		{[]string{"member", "--addr", "room=127.0.0.1:0"}, `no module "room" is mocked`},
		{[]string{"contracts/shared/v1"}, "has no OpenAPI document with operations"},
		{[]string{"member", "--addr", "256.0.0.1:1"}, "listen on 256.0.0.1:1"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		cmd := command.New("keiyaku")
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"--config", configFile, "mock"}, tt.args...))
		err := cmd.ExecuteContext(t.Context())
		if exitcode.Of(err) != exitcode.Failure || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("mock %v: exit %d, error %v, want %q", tt.args, exitcode.Of(err), err, tt.want)
		}
	}
}

// TestMockCommandEvents: a module that sends events gets a broker; its
// events are published on POST and at --rate, and can be read with the
// printed KAFKA_BROKERS.
func TestMockCommandEvents(t *testing.T) {
	urls := start(t, "reservation", "--rate", "20ms")
	if urls["broker"] == "" || urls["broker"] != urls["KAFKA_BROKERS"] || !strings.HasPrefix(urls["topic"], "hotel.reservation.events.v1\t") {
		t.Fatalf("output %v: want the broker, the topic and KAFKA_BROKERS", urls)
	}
	resp, err := http.Post(urls["reservation/v1"]+"/_keiyaku/events/ReservationCancelled", "application/json", strings.NewReader(`{"reason":"mock"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST event: %d", resp.StatusCode)
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(urls["KAFKA_BROKERS"], ",")...),
		kgo.ConsumeTopics("hotel.reservation.events.v1"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	types := map[string]bool{}
	for len(types) < 2 {
		fetches := client.PollFetches(t.Context())
		if err := fetches.Err0(); err != nil {
			t.Fatal(err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "ce_type" {
					types[string(h.Value)] = true
				}
			}
		})
	}
}

// TestMockLockedDep: a consumer workspace mocks the member module of its
// locked dependency, named by the dep; a tampered copy is refused.
func TestMockLockedDep(t *testing.T) {
	dir := t.TempDir()
	provider := filepath.Join(dir, "provider")
	if err := os.CopyFS(filepath.Join(provider, "contracts"), os.DirFS(filepath.Join("..", "..", "..", "..", "contracts"))); err != nil {
		t.Fatal(err)
	}
	consumer := filepath.Join(dir, "consumer")
	write := func(name, data string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(consumer, "keiyaku.yaml")
	write(cfg, "version: v1\ndeps:\n  - name: hotel-member\n    source: ../provider\n    module: contracts/member/v1\n")
	write(filepath.Join(consumer, "go.mod"), "module example.com/consumer\n\ngo 1.26\n")
	var out bytes.Buffer
	cmd := command.New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--config", cfg, "deps", "update"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("deps update: %v\n%s", err, out.String())
	}
	urls := startWith(t, cfg, "hotel-member")
	if got := status(t, urls["member/v1"]+"/members/3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70"); got != 200 {
		t.Errorf("member of the dep: %d", got)
	}
	copyFile := filepath.Join(consumer, ".keiyaku", "deps", "hotel-member", "contracts", "member", "v1", "openapi.yaml")
	if err := os.Chmod(copyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(copyFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("# tampered\n")
	_ = f.Close()
	cmd = command.New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--config", cfg, "mock", "hotel-member"})
	err = cmd.ExecuteContext(t.Context())
	if exitcode.Of(err) != exitcode.Failure || !strings.Contains(fmt.Sprint(err), "hotel-member") {
		t.Errorf("mock of a tampered dep: exit %d, %v", exitcode.Of(err), err)
	}
}
