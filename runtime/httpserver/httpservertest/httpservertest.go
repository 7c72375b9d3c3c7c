// Package httpservertest checks, in component tests, that a service
// answers as its OpenAPI contract says.
//
// [Handler] wraps the service's handler; every response it writes is
// validated against the operation the request matched: the status must be
// documented (explicitly or by a default response), the Content-Type must
// be one the response declares, and the body must match its schema. A
// violation fails the test with t.Errorf, naming the operation, the status
// and the offending field:
//
//	httpservertest: CreateRoomHold (POST /rooms/{roomId}/holds) answered 201: body.expiresAt: must be a valid date-time
//
// Requests that match no operation (answered 404 or 405 before any
// operation runs) are passed through unchecked. Wrap the whole server
// handler, so that the validation, idempotency and error hooks are held to
// the contract too:
//
//	srv := httpservertest.NewServer(t, spec, server.Handler())
//	client, _ := roomv1.NewClientWithResponses(srv.URL)
package httpservertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Handler returns h wrapped so that each response it writes is validated
// against doc, reporting violations with t.Errorf. Like the server's
// validator it matches operations on the path alone, ignoring the servers
// of doc (doc itself is not changed). Handler fails the test at once
// (t.Fatalf) if doc is nil or invalid. The handler is safe for concurrent
// use; it keeps each response body in memory to validate it.
func Handler(t testing.TB, doc *openapi3.T, h http.Handler) http.Handler {
	t.Helper()
	if doc == nil {
		t.Fatalf("httpservertest: nil OpenAPI document")
	}
	d := *doc
	d.Servers = nil
	router, err := legacy.NewRouter(&d)
	if err != nil {
		t.Fatalf("httpservertest: %v", err)
	}
	return &checker{t: t, router: router, next: h, options: &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.DisableSchemaErrorDetails(),
			openapi3.WithStringFormatValidator("uuid", openapi3.NewCallbackValidator(checkUUID)),
		},
	}}
}

// NewServer starts an [httptest.Server] serving [Handler](t, doc, h) and
// closes it when the test ends.
func NewServer(t testing.TB, doc *openapi3.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(t, doc, h))
	t.Cleanup(srv.Close)
	return srv
}

type checker struct {
	t       testing.TB
	router  routers.Router
	next    http.Handler
	options *openapi3filter.Options
}

func (c *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, params, err := c.router.FindRoute(r)
	if err != nil || r.Method == http.MethodHead { // no operation, or no body to check
		c.next.ServeHTTP(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w}
	c.next.ServeHTTP(rec, r)
	status := rec.status
	if !rec.wrote {
		status = http.StatusOK
	}
	header := rec.header
	if header == nil {
		header = w.Header().Clone()
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: c.options},
		Status:                 status,
		Header:                 header,
		Options:                c.options,
	}
	in.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.WithoutCancel(r.Context()), in); err != nil {
		op := route.Operation.OperationID
		if op == "" {
			op = "operation"
		}
		for _, msg := range describe(err) {
			c.t.Errorf("httpservertest: %s (%s %s) answered %d: %s", op, route.Method, route.Path, status, msg)
		}
	}
}

// describe turns a ValidateResponse error into one line per violation.
func describe(err error) []string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		var out []string
		for _, e := range me {
			out = append(out, describe(e)...)
		}
		return out
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		field := "body"
		if ptr := se.JSONPointer(); len(ptr) > 0 {
			field += "." + strings.Join(ptr, ".")
		}
		reason := se.Reason
		switch se.SchemaField {
		case "required":
			reason = "is required"
		case "format":
			if se.Schema != nil {
				reason = "must be a valid " + se.Schema.Format
			}
		}
		return []string{field + ": " + strings.TrimPrefix(reason, "value ")}
	}
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) {
		if re.Err != nil {
			var nested openapi3.MultiError
			var nestedSchema *openapi3.SchemaError
			if errors.As(re.Err, &nested) || errors.As(re.Err, &nestedSchema) {
				return describe(re.Err)
			}
		}
		switch {
		case re.Reason == "status is not supported":
			return []string{"status is not documented for this operation"}
		case strings.HasPrefix(re.Reason, "response header Content-Type has unexpected value"):
			return []string{"header.Content-Type: " + strings.TrimPrefix(re.Reason, "response header Content-Type has unexpected value: ") + " is not declared for this status"}
		}
	}
	return []string{err.Error()}
}

// recorder passes the response through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote && code >= 200 {
		r.status, r.wrote = code, true
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func checkUUID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("not a UUID")
	}
	for i := range len(s) {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return fmt.Errorf("not a UUID")
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fmt.Errorf("not a UUID")
		}
	}
	return nil
}
