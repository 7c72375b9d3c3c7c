//go:build pact

package pact

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
)

// envVerifierCLI names the official Pact CLI binary (pact/install.sh DIR cli
// installs it; make pact-test sets it to .pact/bin/pact).
const envVerifierCLI = "KEIYAKU_PACT_CLI"

// startBinary builds the service binary of ./services/<name>/cmd/<name>,
// runs it as its own process on a listener it binds at 127.0.0.1:0 with
// the Pact state change endpoint on and an empty SQLite database, and
// returns the address it logged ("http server listening"). The process is
// stopped with SIGTERM at the end of the test.
func startBinary(t *testing.T, name string, kafka app.KafkaConfig) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, name)
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../services/"+name+"/cmd/"+name)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:0",
		"DATABASE_URL="+filepath.Join(dir, name+".db"),
		"KAFKA_BROKERS="+strings.Join(kafka.Client.Brokers, ","),
		"PACT_PROVIDER_STATES=true",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := make(chan string, 1)
	var logs strings.Builder
	go func() {
		lines := bufio.NewScanner(stderr)
		found := false
		for lines.Scan() {
			logs.WriteString(lines.Text() + "\n")
			var rec struct{ Msg, Addr string }
			if !found && json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "http server listening" {
				found = true
				addr <- rec.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a
	case err := <-exited:
		exited <- err
		t.Fatalf("%s exited before listening: %v\n%s", name, err, logs.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not log its listening address in 2 minutes", name)
	}
	return ""
}

// TestVerifierCLIAgainstBinaries runs the official Pact verifier (the
// pact CLI's "pact verifier", not pact-go) against the member and room
// binaries as a provider team's CI would: each binary a process of its
// own on its own port, its provider states set up through its
// /_pact/provider-states endpoint (PACT_PROVIDER_STATES=true), every
// interaction of the committed pact replayed over HTTP.
func TestVerifierCLIAgainstBinaries(t *testing.T) {
	t.Parallel()
	cli := os.Getenv(envVerifierCLI)
	if cli == "" {
		t.Fatalf("%s is not set: run make pact-test, which installs the Pact CLI (pact/install.sh DIR cli) and sets it", envVerifierCLI)
	}
	for _, tc := range []struct {
		name   string
		topics map[string]int32
	}{
		{memberName, memberv1.TopicPartitions},
		{roomName, roomv1.TopicPartitions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startBinary(t, tc.name, apptest.Broker(t, tc.topics))
			host, port, _ := strings.Cut(addr, ":")
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			verify := exec.CommandContext(ctx, cli, "verifier",
				"--file", filepath.Join(pactDir, reservationName+"-"+tc.name+".json"),
				"--provider-name", tc.name,
				"--hostname", host, "--port", port,
				"--state-change-url", fmt.Sprintf("http://%s%s", addr, app.ProviderStatesPath),
				"--no-colour")
			verify.Env = append(os.Environ(), "PACT_DO_NOT_TRACK=true")
			out, err := verify.CombinedOutput()
			if err != nil {
				t.Fatalf("pact verifier against the %s binary: %v\n%s", tc.name, err, out)
			}
			if !strings.Contains(string(out), "Verifying a pact between "+reservationName+" and "+tc.name) {
				t.Errorf("the verifier output does not name the pact:\n%s", out)
			}
			t.Logf("pact verifier against the %s binary:\n%s", tc.name, out)
		})
	}
}
