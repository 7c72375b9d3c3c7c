//go:build pact

package pact

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/room"
)

// envBroken makes TestBrokenMemberProvider verify a member provider broken
// on purpose (its value says how); only the negative tests set it, in a
// child process of their own.
const envBroken = "KEIYAKU_PACT_BROKEN"

// memberProvider starts the real member service (fresh SQLite database,
// embedded broker) and serves its handler, wrapped by wrap when not nil,
// on loopback.
func memberProvider(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	svc, err := member.New(t.Context(), member.Config{
		ListenAddr: "127.0.0.1:0", DatabaseURL: filepath.Join(t.TempDir(), "member.db"),
		Kafka: apptest.Broker(t, memberv1.TopicPartitions), DemoData: true,
	})
	if err != nil {
		t.Fatalf("member.New: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	h := svc.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// memberStates are the provider states of pacts/reservation-member.json:
// the members they name are in the member service's demo data (active,
// suspended), or absent (unknown), so nothing needs to be written.
var memberStates = models.StateHandlers{
	stateActiveMember:    func(bool, models.ProviderState) (models.ProviderStateResponse, error) { return nil, nil },
	stateSuspendedMember: func(bool, models.ProviderState) (models.ProviderStateResponse, error) { return nil, nil },
	stateUnknownMember:   func(bool, models.ProviderState) (models.ProviderStateResponse, error) { return nil, nil },
}

func verifyMember(t *testing.T, url string) error {
	return provider.NewVerifier().VerifyProvider(t, provider.VerifyRequest{
		ProviderBaseURL: url, Provider: memberName,
		PactFiles:            []string{filepath.Join(pactDir, reservationName+"-"+memberName+".json")},
		StateHandlers:        memberStates,
		FailIfNoPactsFound:   true,
		DisableColoredOutput: true,
	})
}

// TestProviderMember verifies the committed reservation → member pact
// against the real member handlers.
func TestProviderMember(t *testing.T) {
	t.Parallel()
	if err := verifyMember(t, memberProvider(t, nil)); err != nil {
		t.Fatal(err)
	}
}

// TestProviderRoom verifies the committed reservation → room pact against
// the real room handlers; the taken room is held through the room API by
// another reservation when its state is set up.
func TestProviderRoom(t *testing.T) {
	t.Parallel()
	svc, err := room.New(t.Context(), room.Config{
		ListenAddr: "127.0.0.1:0", DatabaseURL: filepath.Join(t.TempDir(), "room.db"),
		Kafka: apptest.Broker(t, roomv1.TopicPartitions), DemoData: true,
	})
	if err != nil {
		t.Fatalf("room.New: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	noop := func(bool, models.ProviderState) (models.ProviderStateResponse, error) { return nil, nil }
	err = provider.NewVerifier().VerifyProvider(t, provider.VerifyRequest{
		ProviderBaseURL: srv.URL, Provider: roomName,
		PactFiles: []string{filepath.Join(pactDir, reservationName+"-"+roomName+".json")},
		StateHandlers: models.StateHandlers{
			stateRoomAvailable: noop, // demo data, and never held by another state
			stateRoomTaken: func(setup bool, _ models.ProviderState) (models.ProviderStateResponse, error) {
				if !setup {
					return nil, nil
				}
				body := fmt.Sprintf(`{"reservationId":"00000000-0000-4000-8000-0000000000aa","checkIn":%q,"checkOut":%q}`, checkIn, checkOut)
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/rooms/"+takenRoomID+"/holds", strings.NewReader(body))
				if err != nil {
					return nil, err
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "pact-state-room-taken")
				resp, err := srv.Client().Do(req)
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					return nil, fmt.Errorf("state %q: hold answered %s", stateRoomTaken, resp.Status)
				}
				return nil, nil
			},
		},
		FailIfNoPactsFound:   true,
		DisableColoredOutput: true,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// breakages are the ways TestBrokenMemberProvider breaks the member
// provider, by a middleware around its real handler.
var breakages = map[string]func(http.Handler) http.Handler{
	// The member's "status" field is renamed "state".
	"rename-field": func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(`"status":"`), []byte(`"state":"`))
			copyResponse(w, rec, rec.Code, body)
		})
	},
	// An unknown member is answered 410 instead of 404.
	"change-status": func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			code := rec.Code
			if code == http.StatusNotFound {
				code = http.StatusGone
			}
			copyResponse(w, rec, code, rec.Body.Bytes())
		})
	},
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder, code int, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(code)
	w.Write(body)
}

// TestBrokenMemberProvider is the child of TestProviderDetectsBreakage: it
// verifies the member pact against a provider broken as $KEIYAKU_PACT_BROKEN
// says, and is skipped otherwise.
func TestBrokenMemberProvider(t *testing.T) {
	how := os.Getenv(envBroken)
	if how == "" {
		t.Skip("run by TestProviderDetectsBreakage")
	}
	wrap, ok := breakages[how]
	if !ok {
		t.Fatalf("unknown breakage %q", how)
	}
	if err := verifyMember(t, memberProvider(t, wrap)); err != nil {
		t.Fatal(err)
	}
}

// TestProviderDetectsBreakage proves that verification can fail: a member
// provider with a field renamed, or with a status code changed, fails it
// with a message naming what differs. Each runs in a child process (the
// verifier fails the test it is given).
func TestProviderDetectsBreakage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		how  string
		want []string
	}{
		{how: "rename-field", want: []string{"a request for an active member", "missing the following keys: status"}},
		{how: "change-status", want: []string{"a request for an unknown member", "expected 404 but was 410"}},
	}
	for _, tc := range tests {
		t.Run(tc.how, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenMemberProvider$", "-test.count=1")
			cmd.Env = append(os.Environ(), envBroken+"="+tc.how, "KEIYAKU_PACT_DIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("verification of a broken provider passed:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
