package verify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/room"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
	"github.com/keiyaku/keiyaku/tools/internal/report"
	"github.com/keiyaku/keiyaku/tools/internal/verify"
)

// contracts loads the OpenAPI contracts of this repository's modules, by
// service name.
func contracts(t testing.TB) map[string]mock.Contract {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "..", config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := mock.Load(t.Context(), cfg, cfg.Modules, true)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]mock.Contract{}
	for _, c := range loaded {
		out[c.Module.Service] = c
	}
	return out
}

// TestReferenceServicesHonourTheirContracts is the promise of make test:
// each of the four reference services, running for real, passes keiyaku
// verify against its own contract — no finding at error level.
func TestReferenceServicesHonourTheirContracts(t *testing.T) {
	all := contracts(t)
	for _, s := range startServices(t) {
		c, ok := all[s.name]
		if !ok {
			t.Fatalf("no contract for %s", s.name)
		}
		opts := []verify.Option{verify.WithFile(c.File), verify.WithLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))}
		if s.name == "reservation" {
			opts = append(opts, verify.WithSetupURL(reservationStates(t, s.url)))
		}
		res, err := verify.HTTP(t.Context(), c.Doc, s.url, opts...)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Operations == 0 || res.Cases < res.Operations*2 {
			t.Errorf("%s: %d operations, %d cases: the contract was not exercised", s.name, res.Operations, res.Cases)
		}
		for _, f := range res.Findings {
			if f.Severity == report.Error {
				t.Errorf("%s: %s", s.name, f)
			} else {
				t.Logf("%s: %s", s.name, f)
			}
		}
		t.Logf("%s: %d operations, %d requests, %d findings", s.name, res.Operations, res.Cases, len(res.Findings))
	}
}

// reservationStates serves the provider-state hook of the reservation
// service: before the example requests of getReservation and
// cancelReservation it books a reservation (another room than the
// contract's example, a week of its own each time) and hands its id over
// as the path parameter, so that those operations answer 200, not 404.
func reservationStates(t *testing.T, reservationURL string) string {
	t.Helper()
	var n int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var state struct{ OperationID, Case string }
		if err := json.NewDecoder(r.Body).Decode(&state); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if state.Case != "example" || (state.OperationID != "getReservation" && state.OperationID != "cancelReservation") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		n++
		checkIn := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 1, 7*n)
		body := fmt.Sprintf(`{"memberId":%q,"roomId":%q,"checkIn":%q,"checkOut":%q,"guests":1}`,
			member.ActiveMemberID, room.SuiteRoomID, checkIn.Format(time.DateOnly), checkIn.AddDate(0, 0, 2).Format(time.DateOnly))
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, reservationURL+"/reservations", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("provider-state-%d", n))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var created struct{ ID string }
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&created) != nil {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("provider state: booking answered %d %s", resp.StatusCode, b)
			http.Error(w, "booking failed", http.StatusBadGateway)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"path": map[string]string{"reservationId": created.ID}})
	}))
	t.Cleanup(hook.Close)
	return hook.URL
}

// breakMember wraps the real member service's handler with one fault per
// request kind, the faults a provider typically ships.
func breakMember(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "not-a-uuid") {
			// A client mistake answered as a server error.
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "boom")
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			// A renamed enum value and a dropped required field.
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				m["status"] = "ACTIVE"
				delete(m, "email")
				body, _ = json.Marshal(m)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestBrokenProviderFindings pins down what verify reports against a
// member service with deliberate faults: each fault is one precise
// finding, located at the operation in the contract.
func TestBrokenProviderFindings(t *testing.T) {
	c := contracts(t)["member"]
	var memberURL string
	for _, s := range startServices(t) {
		if s.name == "member" {
			memberURL = s.url
		}
	}
	proxy := serve(t, breakMember(reverse(t, memberURL)))
	res, err := verify.HTTP(t.Context(), c.Doc, proxy, verify.WithFile(c.File))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		if f.Severity != report.Error {
			continue
		}
		if f.File != "contracts/member/v1/openapi.yaml" || f.Line != 23 {
			t.Errorf("finding at %s:%d, want the getMember operation at contracts/member/v1/openapi.yaml:23", f.File, f.Line)
		}
		got = append(got, f.Rule+": "+f.Message)
	}
	want := []string{
		`VERIFY_INVALID_5XX: getMember path parameter memberId that is not a uuid: answered 500; a request that breaks the contract must get a documented 4xx`,
		`VERIFY_PROBLEM_JSON: getMember path parameter memberId that is not a uuid: answered 500 with Content-Type "text/plain"; an error must be application/problem+json`,
		`VERIFY_RESPONSE_SCHEMA: getMember path parameter memberId that is not a uuid: answered 500: response header Content-Type has unexpected value: "text/plain"`,
		`VERIFY_RESPONSE_SCHEMA: getMember example: answered 200: response body doesn't match schema #/components/schemas/Member: body.email: property "email" is missing`,
		`VERIFY_RESPONSE_SCHEMA: getMember example: answered 200: response body doesn't match schema #/components/schemas/Member: body.status: value is not one of the allowed values ["active","suspended","withdrawn"]`,
	}
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("missing finding\n  %s\ngot:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	var out bytes.Buffer
	if err := report.Write(&out, report.JUnit, "keiyaku verify member/v1", res.Findings); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "VERIFY_INVALID_5XX") {
		t.Errorf("junit output lacks the finding:\n%s", out.String())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// reverse returns a handler forwarding to base, the member service.
func reverse(t testing.TB, base string) http.Handler {
	t.Helper()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}
