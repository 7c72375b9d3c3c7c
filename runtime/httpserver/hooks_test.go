package httpserver_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestHooksWithoutValidator pins that the generated handler's own errors —
// parameter binding, body decoding, errors returned by the service — are
// answered as problem+json with the right status and field, never as
// oapi-codegen's text/plain, even with no validator in front.
func TestHooksWithoutValidator(t *testing.T) {
	t.Parallel()
	room := "/rooms/" + knownRoom
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header http.Header
		body   string
		status int
		field  string
		detail string // a substring of the detail
	}{
		{"path param not a uuid", "GET", "/rooms/nope", nil, "", 400, "path.roomId", ""},
		{"query param missing", "GET", room + "/availability?checkIn=2025-07-01", nil, "", 400, "query.checkOut", ""},
		{"query param bad", "GET", room + "/availability?checkIn=someday&checkOut=2025-07-04", nil, "", 400, "query.checkIn", ""},
		{"header missing", "POST", room + "/holds", jsonHeader(""), validHold, 400, "header.Idempotency-Key", ""},
		{"malformed JSON", "POST", room + "/holds", jsonHeader("key-hooks-1"), `{"checkIn":`, 400, "body", ""},
		{"JSON field of the wrong type", "POST", room + "/holds", jsonHeader("key-hooks-2"), `{"reservationId":12}`, 400, "body.reservationId", ""},
		{"body over the limit (chunked)", "POST", room + "/holds", jsonHeader("key-hooks-3"), strings.Repeat(" ", 2<<20), 413, "", ""},
		{"problem returned by the service", "POST", room + "/holds", jsonHeader("key-hooks-4"), holdBody(reservation, "2025-07-04", "2025-07-01"), 422, "body.checkOut", "checkOut must be after checkIn"},
		{"error returned by the service", "POST", room + "/holds", jsonHeader("key-hooks-5"), holdBody(failingResv, "2025-07-01", "2025-07-04"), 500, "", "unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureConfig{noValidator: true, unchecked: tc.status == 413})
			var body = strings.NewReader(tc.body)
			res := do(t, tc.method, f.url+tc.path, tc.header, chunked{body})
			if res.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tc.status, res.body)
			}
			p := res.problem(t)
			if tc.field != "" && !hasField(p, tc.field) {
				t.Errorf("errors %+v do not name %q", p.Errors, tc.field)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tc.detail)
			}
			if strings.Contains(string(res.body), secret) {
				t.Errorf("body leaks the service error: %s", res.body)
			}
			if tc.status == 500 && !strings.Contains(f.logs.String(), secret) {
				t.Error("the service error is not logged")
			}
		})
	}
}
