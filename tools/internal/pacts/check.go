package pacts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/twmb/avro"
)

// Problem is one way a pact does not fit its provider's contract.
type Problem struct {
	// File is the pact file; Line and Column locate the interaction or
	// message.
	File         string
	Line, Column int
	Message      string
}

// OpenAPIChecker checks HTTP interactions against one OpenAPI document.
// It is safe for concurrent use.
type OpenAPIChecker struct {
	router  routers.Router
	options *openapi3filter.Options
}

// NewOpenAPIChecker returns a checker of doc, a loaded and validated
// document; doc is not modified. Its servers are ignored: interactions are
// matched on path and method only.
func NewOpenAPIChecker(doc *openapi3.T) (*OpenAPIChecker, error) {
	if doc == nil {
		return nil, errors.New("openapi checker: nil document")
	}
	d := *doc
	d.Servers = nil
	r, err := legacy.NewRouter(&d)
	if err != nil {
		return nil, fmt.Errorf("openapi checker: %w", err)
	}
	return &OpenAPIChecker{router: r, options: &openapi3filter.Options{
		MultiError:                        true,
		AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
		RejectWhenRequestBodyNotSpecified: true,
		IncludeResponseStatus:             true,
		SchemaValidationOptions:           []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}}, nil
}

// Check returns the interactions of f that the document does not allow:
// an unknown path or method, a request whose parameters or body do not
// validate, a response status the operation does not document, or a
// response body that does not validate against its schema.
func (c *OpenAPIChecker) Check(ctx context.Context, f *File) []Problem {
	var out []Problem
	for _, in := range f.Interactions {
		if msg := c.check(ctx, in); msg != "" {
			out = append(out, Problem{File: f.Path, Line: in.Line, Column: in.Column,
				Message: fmt.Sprintf("interaction %q (%s → %s): %s %s: %s", in.Description, f.Consumer, f.Provider, in.Request.Method, in.Request.Path, msg)})
		}
	}
	return out
}

func (c *OpenAPIChecker) check(ctx context.Context, in *Interaction) string {
	u := &url.URL{Path: in.Request.Path}
	q := url.Values{}
	for k, vs := range in.Request.Query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	var body io.Reader = http.NoBody
	if in.Request.Body != nil {
		body = bytes.NewReader(in.Request.Body)
	}
	req, err := http.NewRequestWithContext(ctx, in.Request.Method, u.String(), body)
	if err != nil {
		return "not a valid request: " + err.Error()
	}
	for k, v := range in.Request.Headers {
		req.Header.Set(k, v)
	}
	if in.Request.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := c.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return "no such path in the provider's contract"
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return "the path has no " + in.Request.Method + " operation in the provider's contract"
	case err != nil:
		return err.Error()
	}
	rin := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.options}
	if err := openapi3filter.ValidateRequest(ctx, rin); err != nil {
		return "request: " + oneLine(err)
	}
	op := route.Operation
	code := strconv.Itoa(in.Response.Status)
	if op.Responses == nil || (op.Responses.Value(code) == nil && op.Responses.Value(code[:1]+"XX") == nil && op.Responses.Default() == nil) {
		return fmt.Sprintf("response status %d is not documented (the operation answers %s)", in.Response.Status, strings.Join(statuses(op), ", "))
	}
	header := http.Header{}
	for k, v := range in.Response.Headers {
		header.Set(k, v)
	}
	if in.Response.Body != nil && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	var rbody []byte
	if in.Response.Body != nil {
		rbody = in.Response.Body
	}
	rout := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: rin, Status: in.Response.Status, Header: header, Options: c.options,
	}
	rout.SetBodyBytes(rbody)
	if err := openapi3filter.ValidateResponse(ctx, rout); err != nil {
		return fmt.Sprintf("response %d: %s", in.Response.Status, oneLine(err))
	}
	return ""
}

func statuses(op *openapi3.Operation) []string {
	if op.Responses == nil {
		return nil
	}
	codes := make([]string, 0, op.Responses.Len())
	for code := range op.Responses.Map() {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}

// oneLine flattens a (multi-)error to one line.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	const max = 400
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// CheckAvro returns the messages of f whose contents are not a valid
// instance of their Avro schema: schemas maps Avro full names to schemas,
// and a message names its schema by its ce_type metadata. A message
// without ce_type, or naming a schema the provider does not own, is a
// problem too.
func CheckAvro(f *File, schemas map[string]*avro.Schema) []Problem {
	var out []Problem
	for _, m := range f.Messages {
		if msg := checkMessage(m, schemas); msg != "" {
			out = append(out, Problem{File: f.Path, Line: m.Line, Column: m.Column,
				Message: fmt.Sprintf("message %q (%s ← %s): %s", m.Description, f.Consumer, f.Provider, msg)})
		}
	}
	return out
}

func checkMessage(m *Message, schemas map[string]*avro.Schema) string {
	typ := m.Type()
	if typ == "" {
		return "no ce_type metadata: name the event's Avro full name, e.g. \"ce_type\": \"hotel.reservation.v1.ReservationCreated\""
	}
	s, ok := schemas[typ]
	if !ok {
		known := make([]string, 0, len(schemas))
		for k := range schemas {
			known = append(known, k)
		}
		slices.Sort(known)
		return fmt.Sprintf("ce_type %q is no Avro record of the provider (it has %s)", typ, strings.Join(known, ", "))
	}
	if m.Contents == nil {
		return "no contents"
	}
	var schemaJSON any
	if err := json.Unmarshal([]byte(s.String()), &schemaJSON); err == nil {
		if msg := unknownFields(schemaJSON, m.Contents); msg != "" {
			return msg
		}
	}
	var v any
	if err := s.DecodeJSON(m.Contents, &v); err != nil {
		return fmt.Sprintf("contents are not a valid %s: %s", typ, oneLine(err))
	}
	if _, err := s.Encode(v); err != nil {
		return fmt.Sprintf("contents do not encode as %s: %s", typ, oneLine(err))
	}
	return ""
}

// unknownFields reports a top-level or nested record field of contents
// that the schema does not have (Avro's JSON decoding skips them, but a
// consumer expecting one would never get it).
func unknownFields(schema any, contents json.RawMessage) string {
	var v any
	if err := json.Unmarshal(contents, &v); err != nil {
		return "contents are not JSON: " + err.Error()
	}
	named := map[string]map[string]any{}
	var walk func(sc any, v any, at string, depth int) string
	walk = func(sc any, v any, at string, depth int) string {
		if depth > 64 {
			return ""
		}
		switch s := sc.(type) {
		case string:
			if r, ok := named[s]; ok {
				return walk(r, v, at, depth+1)
			}
		case []any:
			for _, b := range s {
				if msg := walk(b, v, at, depth+1); msg == "" {
					return ""
				}
			}
		case map[string]any:
			if n, ok := s["name"].(string); ok {
				named[n] = s
				if ns, ok := s["namespace"].(string); ok {
					named[ns+"."+n] = s
				}
			}
			switch s["type"] {
			case "record":
				obj, ok := v.(map[string]any)
				if !ok {
					return ""
				}
				fields := map[string]any{}
				list, _ := s["fields"].([]any)
				for _, f := range list {
					fm, _ := f.(map[string]any)
					name, _ := fm["name"].(string)
					fields[name] = fm["type"]
				}
				keys := make([]string, 0, len(obj))
				for k := range obj {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					t, ok := fields[k]
					if !ok {
						return fmt.Sprintf("field %q is not in the schema", strings.TrimPrefix(at+"/"+k, "/"))
					}
					if msg := walk(t, obj[k], at+"/"+k, depth+1); msg != "" {
						return msg
					}
				}
			case "array":
				if a, ok := v.([]any); ok {
					for _, x := range a {
						if msg := walk(s["items"], x, at, depth+1); msg != "" {
							return msg
						}
					}
				}
			case "map":
				if m, ok := v.(map[string]any); ok {
					for _, x := range m {
						if msg := walk(s["values"], x, at, depth+1); msg != "" {
							return msg
						}
					}
				}
			default:
				if inner, ok := s["type"].(map[string]any); ok {
					return walk(inner, v, at, depth+1)
				}
			}
		}
		return ""
	}
	return walk(schema, v, "", 0)
}
