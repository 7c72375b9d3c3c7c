package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// TestWrite pins the wire form: application/problem+json, the status line
// equal to the status member, type and title always present, gaps filled
// without changing the caller's value, and a 500 for a nil problem or a
// non-error status.
func TestWrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		p      *problem.Problem
		status int
		want   string
	}{
		{"bad request with fields", problem.BadRequest("request validation failed", problem.FieldError{Field: "query.checkOut", Reason: "is required"}), 400,
			`{"type":"about:blank","title":"Bad Request","status":400,"detail":"request validation failed","errors":[{"field":"query.checkOut","reason":"is required"}]}`},
		{"not found", problem.NotFound("room 1 was not found"), 404,
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"room 1 was not found"}`},
		{"custom type and instance", &problem.Problem{Type: "https://keiyaku.dev/problems/room-taken", Title: "Room taken", Status: 409, Instance: "/rooms/1/holds"}, 409,
			`{"type":"https://keiyaku.dev/problems/room-taken","title":"Room taken","status":409,"instance":"/rooms/1/holds"}`},
		{"gaps filled", &problem.Problem{Status: 422}, 422,
			`{"type":"about:blank","title":"Unprocessable Entity","status":422}`},
		{"internal", problem.Internal(), 500,
			`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"an unexpected error occurred"}`},
		{"nil", nil, 500,
			`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"an unexpected error occurred"}`},
		{"success status", &problem.Problem{Status: 200, Detail: "fine"}, 500,
			`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"an unexpected error occurred"}`},
		{"no status", &problem.Problem{Detail: "oops"}, 500,
			`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"an unexpected error occurred"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var before problem.Problem
			if tc.p != nil {
				before = *tc.p
			}
			rec := httptest.NewRecorder()
			problem.Write(rec, tc.p)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type %q, want %q", ct, problem.ContentType)
			}
			if got := rec.Body.String(); got != tc.want {
				t.Errorf("body\n%s\nwant\n%s", got, tc.want)
			}
			if tc.p != nil && fmt.Sprint(*tc.p) != fmt.Sprint(before) {
				t.Errorf("Write changed the problem: %+v, was %+v", *tc.p, before)
			}
		})
	}
}

// TestConstructors pins the status and title of each constructor.
func TestConstructors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p      *problem.Problem
		status int
	}{
		{problem.New(http.StatusTeapot, "d"), 418},
		{problem.BadRequest("d"), 400},
		{problem.NotFound("d"), 404},
		{problem.MethodNotAllowed("d"), 405},
		{problem.Conflict("d"), 409},
		{problem.TooLarge("d"), 413},
		{problem.Unprocessable("d"), 422},
		{problem.Internal(), 500},
		{problem.Unavailable("d"), 503},
	} {
		if tc.p.Status != tc.status || tc.p.Title != http.StatusText(tc.status) || tc.p.Type != problem.TypeBlank {
			t.Errorf("%+v: want status %d, its reason phrase and about:blank", tc.p, tc.status)
		}
	}
}

// TestProblemIsAnError pins that a *Problem travels as an error through
// wrapping and is found again with errors.As, as the server hooks expect.
func TestProblemIsAnError(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("hold room: %w", problem.Conflict("room 1 is taken"))
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != 409 {
		t.Fatalf("errors.As = %v, %+v", errors.As(err, &p), p)
	}
	if got, want := err.Error(), "hold room: 409 Conflict: room 1 is taken"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var round problem.Problem
	if err := json.Unmarshal([]byte(`{"type":"about:blank","title":"Conflict","status":409,"errors":[{"field":"f","reason":"r"}]}`), &round); err != nil || round.Errors[0].Field != "f" {
		t.Errorf("decode: %+v, %v", round, err)
	}
}
