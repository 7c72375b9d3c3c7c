package httpservertest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	roomv1 "github.com/keiyaku/keiyaku/runtime/httpserver/internal/roomv1"
)

// recordingT collects the failures Handler reports instead of failing the
// test, so that the test can check them.
type recordingT struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingT) Helper() {}

func (r *recordingT) messages() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

const room = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"

const validRoom = `{"id":"` + room + `","number":"0412","type":"double","capacity":2,"nightlyRate":{"amount":"18000.00","currency":"JPY"}}`

// TestHandler pins that every response is held to the contract: a
// documented status, a declared content type and a body matching the
// schema — and that a violation fails the test with a message naming the
// operation, the status and the field.
func TestHandler(t *testing.T) {
	t.Parallel()
	spec, err := roomv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		body        string
		want        []string // substrings of the failure; none: no failure
	}{
		{"valid response", "GET", "/rooms/" + room, 200, "application/json", validRoom, nil},
		{"valid problem", "GET", "/rooms/" + room, 404, "application/problem+json", `{"type":"about:blank","title":"Not Found","status":404}`, nil},
		{"undocumented status", "GET", "/rooms/" + room, http.StatusTeapot, "application/json", `{}`,
			[]string{"GetRoom", "GET /rooms/{roomId}", "418", "status is not documented"}},
		{"invalid body", "GET", "/rooms/" + room, 200, "application/json",
			`{"id":"` + room + `","type":"penthouse","capacity":20,"nightlyRate":{"amount":"18000.00","currency":"JPY"}}`,
			[]string{"GetRoom", "200", "body.number: is required", "body.type", "body.capacity"}},
		{"invalid format", "GET", "/rooms/" + room, 200, "application/json", strings.Replace(validRoom, room, "not-a-uuid", 1),
			[]string{"body.id: must be a valid uuid"}},
		{"undeclared content type", "GET", "/rooms/" + room, 200, "text/plain", validRoom,
			[]string{"GetRoom", "200", `header.Content-Type: "text/plain" is not declared`}},
		{"problem missing its title", "POST", "/rooms/" + room + "/holds", 409, "application/problem+json", `{"type":"about:blank","status":409}`,
			[]string{"CreateRoomHold", "409", "body.title: is required"}},
		{"unknown route is not checked", "GET", "/nowhere", 404, "text/plain", "nothing", nil},
		{"HEAD is not checked", "HEAD", "/rooms/" + room, 200, "application/json", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := &recordingT{TB: t}
			h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			srv := httpservertest.NewServer(rt, spec, h)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || (tc.method != "HEAD" && string(got) != tc.body) {
				t.Errorf("response changed on its way: %d %q, want %d %q", res.StatusCode, got, tc.status, tc.body)
			}
			msgs := rt.messages()
			if len(tc.want) == 0 && msgs != "" {
				t.Errorf("unexpected failure:\n%s", msgs)
			}
			for _, w := range tc.want {
				if !strings.Contains(msgs, w) {
					t.Errorf("failure lacks %q:\n%s", w, msgs)
				}
			}
		})
	}
}
