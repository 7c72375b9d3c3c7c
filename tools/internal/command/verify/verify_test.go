package verify_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/tools/internal/command"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
)

var configFile = filepath.Join("..", "..", "..", "..", config.FileName)

// keiyaku runs the command tree as main does and returns the output and
// the exit code main would use.
func keiyaku(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := command.New("keiyaku")
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--config", configFile}, args...))
	err := cmd.ExecuteContext(t.Context())
	if err != nil {
		out.WriteString("error: " + err.Error() + "\n")
	}
	return out.String(), exitcode.Of(err)
}

// memberMock serves the member contract's mock, optionally behind a fault.
func memberMock(t *testing.T, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	cfg, err := config.Load(configFile)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := mock.Select(cfg, []string{"member"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mock.Load(t.Context(), cfg, mods, false)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mock.NewHandler(cs[0].Doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault != nil && fault(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestVerifyExitCodes pins down the exit codes and outputs of keiyaku
// verify: 0 when the provider conforms, 100 with findings in the format
// asked for, 1 for usage and load errors.
func TestVerifyExitCodes(t *testing.T) {
	good := memberMock(t, nil)
	broken := memberMock(t, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "not-a-uuid") {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	var authorized []string
	authed := memberMock(t, func(w http.ResponseWriter, r *http.Request) bool {
		authorized = append(authorized, r.Header.Get("Authorization"))
		return false
	})
	var setupCalls []map[string]string
	setup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		setupCalls = append(setupCalls, body)
	}))
	t.Cleanup(setup.Close)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"conforming provider", []string{"verify", "--module", "member", "--url", good, "--setup-url", setup.URL}, 0, []string{"member/v1 at " + good + ": 1 operations, 3 requests, 0 findings"}},
		{"broken provider, text", []string{"verify", "--module", "member/v1", "--url", broken}, 100, []string{"contracts/member/v1/openapi.yaml:23:5: error VERIFY_INVALID_5XX: getMember path parameter memberId that is not a uuid: answered 500"}},
		{"broken provider, github-actions", []string{"verify", "--module", "member", "--url", broken, "--format", "github-actions"}, 100, []string{"::error file=contracts/member/v1/openapi.yaml,line=23"}},
		{"broken provider, json", []string{"verify", "--module", "member", "--url", broken, "--format", "json"}, 100, []string{`"rule": "VERIFY_INVALID_5XX"`}},
		{"broken provider, junit", []string{"verify", "--module", "member", "--url", broken, "--format", "junit"}, 100, []string{"<testsuite", "VERIFY_INVALID_5XX"}},
		{"credentials", []string{"verify", "--module", "member", "--url", authed, "--header", "Authorization: Bearer t0ken"}, 0, []string{"0 findings"}},
		{"bad header", []string{"verify", "--module", "member", "--url", good, "--header", "Authorization"}, 1, []string{`want "Name: value"`}},
		{"no module", []string{"verify", "--url", good}, 1, []string{"--module is required"}},
		{"unknown module", []string{"verify", "--module", "billing", "--url", good}, 1, []string{`no module "billing"`}},
		{"url and brokers", []string{"verify", "--module", "member", "--url", good, "--brokers", "127.0.0.1:9"}, 1, []string{"one of them"}},
		{"bad url", []string{"verify", "--module", "member", "--url", "localhost:8081"}, 1, []string{"want an absolute http(s) URL"}},
		{"bad format", []string{"verify", "--module", "member", "--url", good, "--format", "xml"}, 1, []string{`--format "xml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := keiyaku(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if len(authorized) != 3 || authorized[0] != "Bearer t0ken" {
		t.Errorf("Authorization sent %q, want it on every request", authorized)
	}
	if len(setupCalls) != 3 || setupCalls[0]["operationId"] != "getMember" {
		t.Errorf("setup hook calls %v, want one per request of getMember", setupCalls)
	}
}

// TestVerifyTopic: a topic holding a record that is not an event of the
// contract exits 100 with the summary table; a topic the module does not
// declare exits 1.
func TestVerifyTopic(t *testing.T) {
	const topic = "hotel.reservation.events.v1"
	broker, err := embedded.Start(t.Context(), embedded.WithTopics(embedded.Topic{Name: topic, Partitions: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	client, err := kgo.NewClient(kgo.SeedBrokers(broker.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("{}")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	brokers := strings.Join(broker.Addrs(), ",")
	out, code := keiyaku(t, "verify", "--module", "reservation", "--brokers", brokers, "--topic", topic, "--timeout", "3s")
	if code != 100 || !strings.Contains(out, "VERIFY_RECORD_TYPE") || !strings.Contains(out, "(unknown ce_type)                     0              1  0/0") {
		t.Errorf("exit %d, want 100 with the record at 0/0 named:\n%s", code, out)
	}
	out, code = keiyaku(t, "verify", "--module", "reservation", "--brokers", brokers, "--topic", "elsewhere")
	if code != 1 || !strings.Contains(out, `declares no Avro message on topic "elsewhere" (its topics: hotel.reservation.events.v1)`) {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
}
