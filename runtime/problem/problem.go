// Package problem holds the error body of every Keiyaku HTTP service: problem
// details for HTTP APIs, RFC 9457, sent with the media type
// application/problem+json.
//
// The shape matches the shared contract contracts/shared/v1/problem.yaml:
// type, title and status are always present; detail and instance are
// optional; errors lists the fields that failed validation, each named by
// where it was found ("body.checkIn", "query.checkOut",
// "header.Idempotency-Key", "path.roomId") and why it was rejected.
//
// A handler builds a [Problem] with one of the constructors ([BadRequest],
// [NotFound], [Conflict], [Unprocessable], [Internal], ...) or with [New],
// and sends it with [Write]. A *Problem is also an error, so the handler
// of a generated strict server can return one and the runtime/httpserver
// error hooks write it as it is:
//
//	if room == nil {
//		return nil, problem.NotFound(fmt.Sprintf("room %s was not found", id))
//	}
//
// Problems use the type "about:blank" unless told otherwise; the title is
// then the standard reason phrase of the status (RFC 9457 section 4.2.1).
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of a problem body.
const ContentType = "application/problem+json"

// TypeBlank is the problem type that adds nothing to the status code.
const TypeBlank = "about:blank"

// Problem is an RFC 9457 problem details object.
//
// The zero value is not useful; build one with [New] or a constructor. A
// Problem is a plain value: it is safe to share once built, as long as no
// one changes it.
type Problem struct {
	// Type is a URI reference naming the problem type; "about:blank"
	// when empty.
	Type string `json:"type"`
	// Title is a short summary of the problem type; the reason phrase of
	// Status when empty.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence. It is shown to the client: it must
	// not carry secrets, stack traces or internal addresses.
	Detail string `json:"detail,omitempty"`
	// Instance is a URI reference naming this occurrence, usually the
	// request path.
	Instance string `json:"instance,omitempty"`
	// Errors lists the fields that failed validation, if any.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one field or parameter that failed validation.
type FieldError struct {
	// Field says where the value was found and its name or JSON path, for
	// example "body.checkIn", "body.guests.0.name", "query.checkOut",
	// "header.Idempotency-Key" or "path.roomId". A problem with the body as
	// a whole (not JSON, missing) names "body".
	Field string `json:"field"`
	// Reason says why the value was rejected, without repeating the value.
	Reason string `json:"reason"`
}

// New returns a problem of type "about:blank" with the given status, its
// reason phrase as title, and detail.
func New(status int, detail string) *Problem {
	return &Problem{Type: TypeBlank, Title: http.StatusText(status), Status: status, Detail: detail}
}

// BadRequest returns a 400 problem: the request is malformed (a parameter
// or body field is missing, has the wrong type or format, or is out of
// bounds), with the offending fields.
func BadRequest(detail string, errs ...FieldError) *Problem {
	p := New(http.StatusBadRequest, detail)
	p.Errors = errs
	return p
}

// NotFound returns a 404 problem.
func NotFound(detail string) *Problem { return New(http.StatusNotFound, detail) }

// MethodNotAllowed returns a 405 problem. The caller must also set the
// Allow header before writing it (RFC 9110 section 15.5.6).
func MethodNotAllowed(detail string) *Problem { return New(http.StatusMethodNotAllowed, detail) }

// Conflict returns a 409 problem: the request conflicts with the current
// state of the resource, or with a request still in progress.
func Conflict(detail string) *Problem { return New(http.StatusConflict, detail) }

// TooLarge returns a 413 problem: the request body is larger than allowed.
func TooLarge(detail string) *Problem { return New(http.StatusRequestEntityTooLarge, detail) }

// Unprocessable returns a 422 problem: the request is well-formed but a
// business rule rejects it, with the offending fields if any.
func Unprocessable(detail string, errs ...FieldError) *Problem {
	p := New(http.StatusUnprocessableEntity, detail)
	p.Errors = errs
	return p
}

// Internal returns a 500 problem with a generic detail that tells the
// client nothing about the cause; log the cause instead.
func Internal() *Problem { return New(http.StatusInternalServerError, "an unexpected error occurred") }

// Unavailable returns a 503 problem: the service or one of its
// dependencies cannot serve the request now; it may be retried later.
func Unavailable(detail string) *Problem { return New(http.StatusServiceUnavailable, detail) }

// Error returns the status, title and detail, so that a *Problem can be
// returned as an error and found again with errors.As.
func (p *Problem) Error() string {
	s := strconv.Itoa(p.Status) + " " + p.title()
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

func (p *Problem) title() string {
	if p.Title != "" {
		return p.Title
	}
	return http.StatusText(p.Status)
}

// Write sends p as the response: the Content-Type header
// application/problem+json, the status line p.Status, and p as JSON.
//
// Write fills the gaps of p in what it sends, without changing p: an empty
// Type becomes "about:blank" and an empty Title the reason phrase of the
// status. A nil p, or a Status that is not an HTTP error status (400 to
// 599), is sent as a generic 500 problem instead, so that a programming
// mistake never produces a success response. Write must be called before
// anything else is written to w; errors writing to the client are
// ignored, as there is no one left to tell.
func Write(w http.ResponseWriter, p *Problem) {
	if p == nil || p.Status < 400 || p.Status > 599 {
		p = Internal()
	}
	out := *p
	if out.Type == "" {
		out.Type = TypeBlank
	}
	out.Title = p.title()
	body, err := json.Marshal(&out)
	if err != nil {
		// Unreachable: Problem holds only strings and ints.
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		out.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Encoding")
	w.WriteHeader(out.Status)
	_, _ = w.Write(body)
}
