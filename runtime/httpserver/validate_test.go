package httpserver_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
)

var validHold = holdBody(reservation, "2025-07-01", "2025-07-04")

// chunked hides the length of r from the client, so the body is sent
// chunked and only the server's reader can tell it is too large.
type chunked struct{ io.Reader }

// TestBadRequests pins that a client mistake is answered 4xx with an
// application/problem+json body naming the offending field — never 5xx,
// never text/plain — and that the service never sees the request.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	room := "/rooms/" + knownRoom
	key := "key-0123456789"
	big := strings.Repeat("x", 2<<20)
	for _, tc := range []struct {
		name      string
		method    string
		path      string
		header    map[string][]string
		body      io.Reader
		status    int
		field     string // an errors[] entry that must be present
		allow     string // the Allow header of a 405
		unchecked bool   // the status is not in the contract (413)
	}{
		{name: "path param not a uuid", method: "GET", path: "/rooms/not-a-uuid", status: 400, field: "path.roomId"},
		{name: "query param wrong format", method: "GET", path: room + "/availability?checkIn=2025-13-01&checkOut=2025-07-04", status: 400, field: "query.checkIn"},
		{name: "query date that does not exist", method: "GET", path: room + "/availability?checkIn=2025-02-30&checkOut=2025-07-04", status: 400, field: "query.checkIn"},
		{name: "query param sent twice", method: "GET", path: room + "/availability?checkIn=2025-07-01&checkIn=2025-07-02&checkOut=2025-07-04", status: 400, field: "query.checkIn"},
		{name: "deeply nested JSON", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), status: 400, field: "body"},
		{name: "missing required query param", method: "GET", path: room + "/availability?checkIn=2025-07-01", status: 400, field: "query.checkOut"},
		{name: "body field wrong type", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(`{"reservationId":"` + reservation + `","checkIn":20250701,"checkOut":"2025-07-04"}`), status: 400, field: "body.checkIn"},
		{name: "body field missing", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(`{"reservationId":"` + reservation + `","checkIn":"2025-07-01"}`), status: 400, field: "body.checkOut"},
		{name: "body field bad format", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(holdBody("nope", "2025-07-01", "2025-07-04")), status: 400, field: "body.reservationId"},
		// A JSON decoder takes the first value and drops the rest, and
		// keeps one of two values of a repeated key: what the validator
		// checked and what the handler reads could differ.
		{name: "data after the JSON object", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(validHold + `{"reservationId":"x"}`), status: 400, field: "body"},
		{name: "garbage after the JSON object", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(validHold + " trailing"), status: 400, field: "body"},
		{name: "duplicate key", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(`{"reservationId":"` + reservation + `","checkIn":"2025-07-01","checkOut":"2025-07-04","checkIn":"2025-07-02"}`), status: 400, field: "body.checkIn"},
		{name: "body not an object", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(`[1,2]`), status: 400, field: "body"},
		{name: "body null", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(`null`), status: 400, field: "body"},
		{name: "malformed JSON", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(`{"reservationId":`), status: 400, field: "body"},
		{name: "empty body", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(``), status: 400, field: "body"},
		{name: "wrong content type", method: "POST", path: room + "/holds", header: map[string][]string{"Content-Type": {"text/plain"}, "Idempotency-Key": {key}}, body: strings.NewReader(validHold), status: 400, field: "header.Content-Type"},
		{name: "missing Idempotency-Key", method: "POST", path: room + "/holds", header: jsonHeader(""), body: strings.NewReader(validHold), status: 400, field: "header.Idempotency-Key"},
		{name: "Idempotency-Key too short", method: "POST", path: room + "/holds", header: jsonHeader("short"), body: strings.NewReader(validHold), status: 400, field: "header.Idempotency-Key"},
		{name: "Idempotency-Key sent twice", method: "POST", path: room + "/holds", header: map[string][]string{"Content-Type": {"application/json"}, "Idempotency-Key": {key, key + "x"}}, body: strings.NewReader(validHold), status: 400, field: "header.Idempotency-Key"},
		{name: "body on an operation without one", method: "GET", path: room, header: jsonHeader(""), body: strings.NewReader(`{"a":1}`), status: 400, field: "body"},
		{name: "body over the limit (Content-Length)", method: "POST", path: room + "/holds", header: jsonHeader(key), body: strings.NewReader(big), status: 413, unchecked: true},
		{name: "body over the limit (chunked)", method: "POST", path: room + "/holds", header: jsonHeader(key), body: chunked{strings.NewReader(`{"reservationId":"` + big + `"}`)}, status: 413, unchecked: true},
		{name: "encoded slash in a path param", method: "GET", path: "/rooms/" + knownRoom + "%2Favailability?checkIn=2025-07-01&checkOut=2025-07-04", status: 400, field: "path"},
		{name: "encoded slash, lower case", method: "GET", path: "/rooms/a%2fb", status: 400, field: "path"},
		{name: "encoded backslash", method: "GET", path: "/rooms/a%5Cb", status: 400, field: "path"},
		{name: "dot-dot segment", method: "GET", path: "/rooms/x/../" + knownRoom, status: 400, field: "path"},
		{name: "encoded dot-dot segment", method: "GET", path: "/rooms/x/%2e%2e/" + knownRoom, status: 400, field: "path"},
		{name: "unknown route", method: "GET", path: "/nowhere", status: 404},
		{name: "unknown sub-route", method: "GET", path: room + "/holds/" + knownRoom + "/extra", status: 404},
		{name: "trailing slash", method: "GET", path: room + "/", status: 404},
		{name: "empty path param", method: "DELETE", path: room + "/holds/", status: 404},
		{name: "empty segment", method: "GET", path: "/rooms//availability", status: 404},
		{name: "wrong method on a path with params", method: "PUT", path: room, status: 405, allow: "GET, HEAD"},
		{name: "wrong method on a POST path", method: "GET", path: room + "/holds", status: 405, allow: "POST"},
		{name: "wrong method on a DELETE path", method: "PATCH", path: room + "/holds/" + knownRoom, header: jsonHeader(key), body: strings.NewReader(`{}`), status: 405, allow: "DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureConfig{unchecked: tc.unchecked})
			res := do(t, tc.method, f.url+tc.path, tc.header, tc.body)
			if res.status >= 500 {
				t.Fatalf("status %d for a client mistake; body %s", res.status, res.body)
			}
			if res.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tc.status, res.body)
			}
			p := res.problem(t)
			if tc.field != "" && !hasField(p, tc.field) {
				t.Errorf("errors %+v do not name %q", p.Errors, tc.field)
			}
			if got := res.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if n := f.svc.calls.Load(); n != 0 {
				t.Errorf("the service was called %d times for an invalid request", n)
			}
			if strings.Contains(string(res.body), "Schema:") || strings.Contains(string(res.body), "goroutine") {
				t.Errorf("problem leaks internals: %s", res.body)
			}
		})
	}
}

// TestValidRequestsPass pins that requests keeping the contract reach the
// service untouched, bodies included, with the documented answers.
func TestValidRequestsPass(t *testing.T) {
	t.Parallel()
	room := "/rooms/" + knownRoom
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string][]string
		body   string
		status int
	}{
		{"get", "GET", room, nil, "", 200},
		{"head", "HEAD", room, nil, "", 200},
		{"upper-case uuid", "GET", "/rooms/" + strings.ToUpper(knownRoom), nil, "", 200},
		{"query", "GET", room + "/availability?checkIn=2025-07-01&checkOut=2025-07-04", nil, "", 200},
		{"post", "POST", room + "/holds", jsonHeader("key-0123456789"), validHold, 201},
		{"post with charset", "POST", room + "/holds", map[string][]string{"Content-Type": {"application/json; charset=utf-8"}, "Idempotency-Key": {"key-abcdefgh"}}, validHold, 201},
		{"delete", "DELETE", room + "/holds/" + knownRoom, nil, "", 204},
		{"business rule answered by the service", "POST", room + "/holds", jsonHeader("key-0123456789"), holdBody(reservation, "2025-07-04", "2025-07-01"), 422},
		{"not found answered by the service", "GET", "/rooms/" + missingRoom, nil, "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureConfig{})
			res := do(t, tc.method, f.url+tc.path, tc.header, strings.NewReader(tc.body))
			if res.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tc.status, res.body)
			}
			if n := f.svc.calls.Load(); n != 1 {
				t.Errorf("service calls = %d, want 1", n)
			}
		})
	}
}

// TestValidatorErrors pins that Validator refuses a nil or invalid
// document and a nil format check instead of panicking later.
func TestValidatorErrors(t *testing.T) {
	t.Parallel()
	broken := loadSpec(t)
	broken.OpenAPI = ""
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"nil document", func() error { _, err := httpserver.Validator(nil); return err }},
		{"invalid document", func() error { _, err := httpserver.Validator(broken); return err }},
		{"nil format check", func() error {
			_, err := httpserver.Validator(loadSpec(t), httpserver.WithStringFormat("uuid", nil))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.run(); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestValidatorKeepsServers pins that Validator does not change the
// document it is given (it clears the servers of a copy).
func TestValidatorKeepsServers(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	n := len(spec.Servers)
	if _, err := httpserver.Validator(spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Servers) != n || n == 0 {
		t.Errorf("servers = %d after Validator, want %d (non-zero)", len(spec.Servers), n)
	}
}

// TestWithStringFormat pins that a custom format check replaces the
// default one.
func TestWithStringFormat(t *testing.T) {
	t.Parallel()
	onlyKnown := func(s string) error {
		if s != knownRoom {
			return errors.New("not the known room")
		}
		return nil
	}
	validate, err := httpserver.Validator(loadSpec(t), httpserver.WithStringFormat("uuid", onlyKnown))
	if err != nil {
		t.Fatal(err)
	}
	h := validate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for path, want := range map[string]int{"/rooms/" + knownRoom: 204, "/rooms/" + otherRoom: 400} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: status %d, want %d", path, rec.Code, want)
		}
	}
}

// BenchmarkValidation measures what Validator adds to the generated
// handler for a GET with path and query parameters and for a POST with a
// JSON body.
func BenchmarkValidation(b *testing.B) {
	spec := loadSpec(b)
	svc := &roomService{}
	body := []byte(holdBody(reservation, "2025-07-01", "2025-07-04"))
	for _, bc := range []struct {
		name, method, path string
		body               []byte
		status             int
	}{
		{"GET", http.MethodGet, "/rooms/" + knownRoom + "/availability?checkIn=2025-07-01&checkOut=2025-07-04", nil, 200},
		{"POST", http.MethodPost, "/rooms/" + knownRoom + "/holds", body, 201},
	} {
		for _, validated := range []bool{false, true} {
			name := bc.name + "/bare"
			if validated {
				name = bc.name + "/validated"
			}
			h := apiHandlerNoIdempotency(b, spec, svc, validated)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(bc.method, bc.path, bytes.NewReader(bc.body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", "key-0123456789")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != bc.status {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
