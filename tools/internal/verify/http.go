// Package verify runs contract tests generated from a module's contracts
// against a live provider: every OpenAPI operation is called with requests
// made from its examples and its schemas, and with requests that break the
// contract, and each answer is checked against the documented responses
// (see [HTTP]); every record of a Kafka topic is checked against the
// AsyncAPI and Avro contracts (see [Topic]).
//
// What is found is a list of [report.Finding]s — data, not errors: a
// provider that breaks its contract gives findings, a provider that cannot
// be reached or a contract that does not load gives an error.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/keiyaku/keiyaku/runtime/problem"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// The rules of HTTP verification, the ids of its findings.
const (
	// RuleUndocumentedStatus: the provider answered a status the
	// operation does not document.
	RuleUndocumentedStatus = "VERIFY_UNDOCUMENTED_STATUS"
	// RuleResponse: a documented response whose headers, Content-Type or
	// body break its schema.
	RuleResponse = "VERIFY_RESPONSE_SCHEMA"
	// RuleProblem: an error response that is not application/problem+json
	// with type, title and the status it was sent with.
	RuleProblem = "VERIFY_PROBLEM_JSON"
	// RuleServerError: a request the contract accepts answered 500 (or an
	// undocumented 5xx).
	RuleServerError = "VERIFY_SERVER_ERROR"
	// RuleExampleRejected: a request made from the contract's examples
	// answered 400: the provider rejects what its contract shows.
	RuleExampleRejected = "VERIFY_EXAMPLE_REJECTED"
	// RuleGeneratedRejected: a request generated from the schemas answered
	// 400. Rules the schema cannot express (checkOut after checkIn) cause
	// it too, so it is a warning.
	RuleGeneratedRejected = "VERIFY_GENERATED_REJECTED"
	// RuleUnavailable: a valid request answered with a documented 5xx other
	// than 500 (a dependency of the provider down?).
	RuleUnavailable = "VERIFY_UNAVAILABLE"
	// RuleNegativeAccepted: a request that breaks the contract answered
	// 2xx or 3xx.
	RuleNegativeAccepted = "VERIFY_INVALID_ACCEPTED"
	// RuleNegative5xx: a request that breaks the contract answered 5xx: a
	// client mistake must never be a server error.
	RuleNegative5xx = "VERIFY_INVALID_5XX"
	// RuleSetup: the provider-state hook failed.
	RuleSetup = "VERIFY_SETUP"
	// RuleUnreachable: the request could not be sent or its answer read.
	RuleUnreachable = "VERIFY_UNREACHABLE"
	// RuleSkipped: a case that could not be built (a media type the
	// verifier does not write, a schema with no valid value).
	RuleSkipped = "VERIFY_SKIPPED"
)

// Option configures [HTTP].
type Option func(*options)

type options struct {
	header   http.Header
	client   *http.Client
	setupURL string
	seed     uint64
	file     string
	logger   *slog.Logger
}

// WithHTTPClient sets the client requests are sent with, overriding the
// default: an http.Client with a 10s timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.client = c
		}
	}
}

// WithHeader adds h to every request, overriding what the case would send
// in those headers — credentials, say ("Authorization: Bearer …"). By
// default nothing is added.
func WithHeader(h http.Header) Option { return func(o *options) { o.header = h.Clone() } }

// WithSetupURL sets the provider-state hook: before each case, a POST to
// u with the JSON body {"operationId", "method", "path", "case"}. The hook
// answers 2xx, optionally with a JSON object {"path": {...}, "query":
// {...}, "header": {...}} whose values replace the parameters of the
// case — an id the provider created for it, say. Another status is a
// VERIFY_SETUP finding and the case is not run. By default there is no
// hook.
func WithSetupURL(u string) Option { return func(o *options) { o.setupURL = u } }

// WithSeed sets the seed of generated requests, overriding the default 1.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithFile sets the file findings point at (the contract's path relative
// to the workspace), overriding the default: the file of each operation's
// origin as loaded.
func WithFile(file string) Option { return func(o *options) { o.file = file } }

// WithLogger sets where each case is logged at debug level, overriding the
// default that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// Result is what a verification did and found.
type Result struct {
	// Operations is how many operations were checked.
	Operations int
	// Cases is how many requests were sent.
	Cases int
	// Findings lists the mismatches, sorted.
	Findings []report.Finding
}

// kind is the kind of a case: what the request is and what answer it
// expects.
type kind int

const (
	fromExample kind = iota
	generated
	negative
)

// testCase is one request of an operation.
type testCase struct {
	name   string
	kind   kind
	path   map[string]string
	query  url.Values
	header http.Header
	body   []byte // nil: no body
	ctype  string
}

// HTTP verifies the provider at baseURL against doc: for every operation,
// in path and method order, it sends
//
//   - a request made from the contract's examples (parameter, media type
//     and schema examples; one per named example of the request body),
//   - a request generated from the schemas (deterministic for the seed),
//   - requests that break the contract: a required body property left out,
//     a property of the wrong type, a value outside its enum, a required
//     query parameter or header left out, a path or query parameter of the
//     wrong type or format;
//
// and checks each answer: its status must be documented; its headers,
// Content-Type and body must match the documented response; an error
// (4xx, 5xx) must be an application/problem+json whose status is the
// response's; a valid request must not get a 500; a request that breaks
// the contract must get a documented 4xx, never a 2xx or a 5xx.
//
// Idempotency and other header parameters are generated afresh for every
// case, so that no two cases share an Idempotency-Key. HTTP returns an
// error only if doc is invalid or baseURL is not an absolute http(s)
// URL; a provider that cannot be reached gives VERIFY_UNREACHABLE findings.
func HTTP(ctx context.Context, doc *openapi3.T, baseURL string, opts ...Option) (Result, error) {
	o := options{client: &http.Client{Timeout: 10 * time.Second}, seed: 1, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if doc == nil || doc.Paths == nil {
		return Result{}, errors.New("verify: no OpenAPI document")
	}
	base, err := url.Parse(baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Result{}, fmt.Errorf("verify: --url %q: want an absolute http(s) URL such as http://127.0.0.1:8081", baseURL)
	}
	d := *doc
	d.Servers = nil
	router, err := legacy.NewRouter(&d)
	if err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	v := &verifier{o: o, base: strings.TrimSuffix(baseURL, "/"), router: router}
	var res Result
	for _, p := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		item := doc.Paths.Value(p)
		for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
			op := item.Operations()[method]
			res.Operations++
			for _, c := range v.cases(p, item, method, op) {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				res.Cases++
				v.run(ctx, p, method, op, c)
			}
		}
	}
	report.Sort(v.findings)
	res.Findings = v.findings
	return res, nil
}

type verifier struct {
	o        options
	base     string
	router   routers.Router
	findings []report.Finding
}

func (v *verifier) find(op *openapi3.Operation, method, path string, c *testCase, sev report.Severity, rule, format string, args ...any) {
	f := report.Finding{
		Rule:       rule,
		Severity:   sev,
		Format:     report.FormatOpenAPI,
		File:       v.o.file,
		Message:    fmt.Sprintf("%s %s: %s", opID(op, method, path), c.name, fmt.Sprintf(format, args...)),
		Operations: []string{opID(op, method, path)},
	}
	if op.Origin != nil && op.Origin.Key != nil {
		if f.File == "" {
			f.File = op.Origin.Key.File
		}
		f.Line, f.Column = op.Origin.Key.Line, op.Origin.Key.Column
	}
	v.findings = append(v.findings, f)
}

func opID(op *openapi3.Operation, method, path string) string {
	if op.OperationID != "" {
		return op.OperationID
	}
	return method + " " + path
}

// params lists the parameters of an operation, its own overriding the
// path item's.
func params(item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	seen := map[string]bool{}
	for _, list := range []openapi3.Parameters{op.Parameters, item.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil || seen[ref.Value.In+"."+ref.Value.Name] {
				continue
			}
			seen[ref.Value.In+"."+ref.Value.Name] = true
			out = append(out, ref.Value)
		}
	}
	return out
}

func caseSeed(seed uint64, parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = io.WriteString(h, p+"\x00")
	}
	return seed ^ h.Sum64()
}

// paramValue returns the value of p for a case: its example (from
// examples set) or a generated one.
func paramValue(g *mock.Generator, p *openapi3.Parameter, examples bool) (any, error) {
	if examples && p.In != openapi3.ParameterInHeader {
		if p.Example != nil {
			return p.Example, nil
		}
		for _, name := range slices.Sorted(maps.Keys(p.Examples)) {
			if ex := p.Examples[name]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
				return ex.Value.Value, nil
			}
		}
	}
	if p.Schema == nil || p.Schema.Value == nil {
		return "x", nil
	}
	return g.Value(p.Schema.Value, mock.Request)
}

// requestMedia picks the request body's media type: JSON if declared.
func requestMedia(rb *openapi3.RequestBody) (string, *openapi3.MediaType) {
	names := slices.Sorted(maps.Keys(rb.Content))
	for _, n := range names {
		if base, _, _ := mime.ParseMediaType(n); base == "application/json" || strings.HasSuffix(base, "+json") {
			return n, rb.Content[n]
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	return names[0], rb.Content[names[0]]
}

// cases builds the requests of one operation.
func (v *verifier) cases(path string, item *openapi3.PathItem, method string, op *openapi3.Operation) []*testCase {
	ps := params(item, op)
	build := func(name string, k kind, examples bool, body any, hasBody bool) *testCase {
		g := mock.NewGenerator(caseSeed(v.o.seed, method, path, name), examples)
		c := &testCase{name: name, kind: k, path: map[string]string{}, query: url.Values{}, header: http.Header{}}
		for _, p := range ps {
			if !p.Required && !examples {
				continue
			}
			val, err := paramValue(g, p, examples)
			if err != nil {
				v.find(op, method, path, c, report.Info, RuleSkipped, "parameter %s.%s: %v", p.In, p.Name, err)
				return nil
			}
			setParam(c, p, val)
		}
		if hasBody {
			b, err := json.Marshal(body)
			if err != nil {
				v.find(op, method, path, c, report.Info, RuleSkipped, "encode the body: %v", err)
				return nil
			}
			c.body = b
		}
		return c
	}
	var out []*testCase
	var ctype string
	var mt *openapi3.MediaType
	hasBody := op.RequestBody != nil && op.RequestBody.Value != nil && len(op.RequestBody.Value.Content) > 0
	if hasBody {
		ctype, mt = requestMedia(op.RequestBody.Value)
		if base, _, _ := mime.ParseMediaType(ctype); base != "application/json" && !strings.HasSuffix(base, "+json") {
			c := &testCase{name: "request body"}
			v.find(op, method, path, c, report.Info, RuleSkipped, "request media type %s: the verifier writes JSON bodies only", ctype)
			return nil
		}
	}
	// Positive cases from examples.
	if hasBody {
		var bodies []struct {
			name string
			val  any
		}
		if mt.Example != nil {
			bodies = append(bodies, struct {
				name string
				val  any
			}{"example", mt.Example})
		}
		for _, n := range slices.Sorted(maps.Keys(mt.Examples)) {
			if ex := mt.Examples[n]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
				bodies = append(bodies, struct {
					name string
					val  any
				}{"example " + strconv.Quote(n), ex.Value.Value})
			}
		}
		if len(bodies) == 0 && mt.Schema != nil && mt.Schema.Value != nil {
			g := mock.NewGenerator(caseSeed(v.o.seed, method, path, "example"), true)
			if val, err := g.Value(mt.Schema.Value, mock.Request); err == nil {
				bodies = append(bodies, struct {
					name string
					val  any
				}{"example", val})
			}
		}
		for _, b := range bodies {
			if c := build(b.name, fromExample, true, b.val, true); c != nil {
				c.ctype = ctype
				out = append(out, c)
			}
		}
	} else if c := build("example", fromExample, true, nil, false); c != nil {
		out = append(out, c)
	}
	// A positive case generated from the schemas.
	var genBody any
	if hasBody && mt.Schema != nil && mt.Schema.Value != nil {
		g := mock.NewGenerator(caseSeed(v.o.seed, method, path, "generated body"), false)
		val, err := g.Value(mt.Schema.Value, mock.Request)
		if err != nil {
			v.find(op, method, path, &testCase{name: "generated"}, report.Info, RuleSkipped, "request body: %v", err)
		} else {
			genBody = val
		}
	}
	if !hasBody || genBody != nil {
		if c := build("generated", generated, false, genBody, hasBody); c != nil {
			c.ctype = ctype
			out = append(out, c)
		}
	}
	// Negative cases: start from the first positive case and break one
	// thing.
	if len(out) == 0 {
		return out
	}
	seed := out[0]
	clone := func(name string) *testCase {
		c := *seed
		c.name, c.kind = name, negative
		c.path = maps.Clone(seed.path)
		c.query = url.Values{}
		for k, vs := range seed.query {
			c.query[k] = slices.Clone(vs)
		}
		c.header = seed.header.Clone()
		// A fresh idempotency key: the broken request is a new request.
		g := mock.NewGenerator(caseSeed(v.o.seed, method, path, name), false)
		for _, p := range ps {
			if p.In == openapi3.ParameterInHeader && p.Required {
				if val, err := paramValue(g, p, false); err == nil {
					c.header.Set(p.Name, fmt.Sprint(val))
				}
			}
		}
		return &c
	}
	for _, p := range ps {
		if p.In == openapi3.ParameterInQuery && p.Schema != nil && p.Schema.Value != nil {
			if bad, ok := wrongPathValue(p.Schema.Value); ok {
				c := clone("query parameter " + p.Name + " " + bad.why)
				c.query.Set(p.Name, bad.value)
				out = append(out, c)
			}
		}
		switch {
		case p.In == openapi3.ParameterInHeader && p.Required:
			c := clone("without required header " + p.Name)
			c.header.Del(p.Name)
			out = append(out, c)
		case p.In == openapi3.ParameterInQuery && p.Required:
			c := clone("without required query parameter " + p.Name)
			c.query.Del(p.Name)
			out = append(out, c)
		case p.In == openapi3.ParameterInPath && p.Schema != nil && p.Schema.Value != nil:
			if bad, ok := wrongPathValue(p.Schema.Value); ok {
				c := clone("path parameter " + p.Name + " " + bad.why)
				c.path[p.Name] = bad.value
				out = append(out, c)
			}
		}
	}
	if hasBody && mt.Schema != nil && mt.Schema.Value != nil {
		var obj map[string]any
		if json.Unmarshal(seed.body, &obj) == nil && obj != nil {
			s := mt.Schema.Value
			for _, name := range s.Required {
				if _, ok := obj[name]; !ok {
					continue
				}
				c := clone("body without required property " + name)
				c.body = mustJSON(without(obj, name))
				out = append(out, c)
			}
			typed, enum := false, false
			for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
				ps := s.Properties[name]
				if ps == nil || ps.Value == nil || ps.Value.ReadOnly {
					continue
				}
				if wrong, ok := wrongType(ps.Value); ok && !typed {
					typed = true
					c := clone("body property " + name + " of the wrong type")
					c.body = mustJSON(with(obj, name, wrong))
					out = append(out, c)
				}
				if len(ps.Value.Enum) > 0 && !enum {
					enum = true
					c := clone("body property " + name + " not in its enum")
					c.body = mustJSON(with(obj, name, "not-in-enum-keiyaku"))
					out = append(out, c)
				}
			}
		}
	}
	return out
}

type badValue struct{ value, why string }

// wrongPathValue returns a path or query value the schema does not
// accept.
func wrongPathValue(s *openapi3.Schema) (badValue, bool) {
	switch {
	case s.Type.Is(openapi3.TypeInteger) || s.Type.Is(openapi3.TypeNumber):
		return badValue{"not-a-number", "that is not a number"}, true
	case s.Format == "uuid":
		return badValue{"not-a-uuid", "that is not a uuid"}, true
	case s.Format == "date":
		return badValue{"not-a-date", "that is not a date"}, true
	case len(s.Enum) > 0:
		return badValue{"not-in-enum-keiyaku", "not in its enum"}, true
	}
	return badValue{}, false
}

// wrongType returns a JSON value of another type than s accepts.
func wrongType(s *openapi3.Schema) (any, bool) {
	if s.Type == nil || len(*s.Type) != 1 || s.Nullable {
		return nil, false
	}
	switch (*s.Type)[0] {
	case openapi3.TypeString:
		return 12345, true
	case openapi3.TypeInteger, openapi3.TypeNumber, openapi3.TypeBoolean:
		return "not-a-" + (*s.Type)[0], true
	case openapi3.TypeArray:
		return "not-an-array", true
	case openapi3.TypeObject:
		return "not-an-object", true
	}
	return nil, false
}

func without(obj map[string]any, name string) map[string]any {
	c := maps.Clone(obj)
	delete(c, name)
	return c
}

func with(obj map[string]any, name string, v any) map[string]any {
	c := maps.Clone(obj)
	c[name] = v
	return c
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func setParam(c *testCase, p *openapi3.Parameter, val any) {
	s := mock.ParamString(val)
	switch p.In {
	case openapi3.ParameterInPath:
		c.path[p.Name] = s
	case openapi3.ParameterInQuery:
		if arr, ok := val.([]any); ok && (p.Explode == nil || *p.Explode) {
			for _, e := range arr {
				c.query.Add(p.Name, mock.ParamString(e))
			}
			return
		}
		c.query.Set(p.Name, s)
	case openapi3.ParameterInHeader:
		c.header.Set(p.Name, s)
	case openapi3.ParameterInCookie:
		c.header.Add("Cookie", (&http.Cookie{Name: p.Name, Value: s}).String())
	}
}

// stateAnswer is what the provider-state hook may answer.
type stateAnswer struct {
	Path   map[string]string `json:"path"`
	Query  map[string]string `json:"query"`
	Header map[string]string `json:"header"`
}

func (v *verifier) setup(ctx context.Context, op *openapi3.Operation, method, path string, c *testCase) bool {
	if v.o.setupURL == "" {
		return true
	}
	body := mustJSON(map[string]string{"operationId": op.OperationID, "method": method, "path": path, "case": c.name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.o.setupURL, bytes.NewReader(body))
	if err != nil {
		v.find(op, method, path, c, report.Error, RuleSetup, "setup hook: %v", err)
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.o.client.Do(req)
	if err != nil {
		v.find(op, method, path, c, report.Error, RuleSetup, "setup hook %s: %v", v.o.setupURL, err)
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		v.find(op, method, path, c, report.Error, RuleSetup, "setup hook %s answered %d", v.o.setupURL, resp.StatusCode)
		return false
	}
	var ans stateAnswer
	if len(bytes.TrimSpace(b)) > 0 && json.Unmarshal(b, &ans) == nil {
		maps.Copy(c.path, ans.Path)
		for k, val := range ans.Query {
			c.query.Set(k, val)
		}
		for k, val := range ans.Header {
			c.header.Set(k, val)
		}
	}
	return true
}

// run sends one case and checks its answer.
func (v *verifier) run(ctx context.Context, path, method string, op *openapi3.Operation, c *testCase) {
	if !v.setup(ctx, op, method, path, c) {
		return
	}
	target := path
	for name, val := range c.path {
		target = strings.ReplaceAll(target, "{"+name+"}", url.PathEscape(val))
	}
	u := v.base + target
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		v.find(op, method, path, c, report.Error, RuleUnreachable, "build the request: %v", err)
		return
	}
	req.Header = c.header.Clone()
	if c.body != nil {
		req.Header.Set("Content-Type", c.ctype)
	}
	req.Header.Set("Accept", "application/json, application/problem+json, */*")
	for k, vs := range v.o.header {
		req.Header[k] = vs
	}
	resp, err := v.o.client.Do(req)
	if err != nil {
		v.find(op, method, path, c, report.Error, RuleUnreachable, "%s %s: %v", method, u, err)
		return
	}
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	_ = resp.Body.Close()
	if err != nil {
		v.find(op, method, path, c, report.Error, RuleUnreachable, "read the answer: %v", err)
		return
	}
	v.o.logger.Debug("verify case", slog.String("operation", opID(op, method, path)), slog.String("case", c.name), slog.Int("status", resp.StatusCode))
	v.check(ctx, req, path, method, op, c, resp, respBody)
}

func (v *verifier) check(ctx context.Context, req *http.Request, path, method string, op *openapi3.Operation, c *testCase, resp *http.Response, body []byte) {
	status := resp.StatusCode
	documented := op.Responses != nil && (op.Responses.Status(status) != nil || op.Responses.Default() != nil)
	explicit := op.Responses != nil && op.Responses.Status(status) != nil
	what := fmt.Sprintf("answered %d", status)
	if detail := problemDetail(body); detail != "" && status >= 400 {
		what += " (" + detail + ")"
	}
	switch {
	case c.kind == negative && status >= 500:
		v.find(op, method, path, c, report.Error, RuleNegative5xx, "%s; a request that breaks the contract must get a documented 4xx", what)
	case c.kind == negative && status < 400:
		v.find(op, method, path, c, report.Error, RuleNegativeAccepted, "%s; a request that breaks the contract must get a documented 4xx", what)
	case c.kind == negative && !explicit:
		v.find(op, method, path, c, report.Error, RuleUndocumentedStatus, "%s, which the operation does not document (documented: %s)", what, codes(op))
	case !documented:
		v.find(op, method, path, c, report.Error, RuleUndocumentedStatus, "%s, which the operation does not document (documented: %s)", what, codes(op))
	case c.kind != negative && (status == http.StatusInternalServerError || (status >= 500 && !explicit)):
		v.find(op, method, path, c, report.Error, RuleServerError, "%s to a request the contract accepts", what)
	case c.kind != negative && status >= 500:
		v.find(op, method, path, c, report.Warning, RuleUnavailable, "%s to a request the contract accepts; is a dependency of the provider down?", what)
	case c.kind == fromExample && status == http.StatusBadRequest:
		v.find(op, method, path, c, report.Error, RuleExampleRejected, "%s to a request made from the contract's examples", what)
	case c.kind == generated && status == http.StatusBadRequest:
		v.find(op, method, path, c, report.Warning, RuleGeneratedRejected, "%s to a request generated from the schemas (a rule the schema does not state?)", what)
	}
	if !documented {
		return
	}
	if status >= 400 {
		v.checkProblem(op, method, path, c, status, resp.Header, body)
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		for _, msg := range responseErrors(err) {
			v.find(op, method, path, c, report.Error, RuleResponse, "%s: %s", what, msg)
		}
	}
}

func problemDetail(body []byte) string {
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	if len(p.Detail) > 120 {
		return p.Detail[:120] + "…"
	}
	return p.Detail
}

func (v *verifier) checkProblem(op *openapi3.Operation, method, path string, c *testCase, status int, h http.Header, body []byte) {
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if ct != problem.ContentType {
		v.find(op, method, path, c, report.Error, RuleProblem, "answered %d with Content-Type %q; an error must be %s", status, h.Get("Content-Type"), problem.ContentType)
		return
	}
	var p struct {
		Type   *string `json:"type"`
		Title  *string `json:"title"`
		Status *int    `json:"status"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		v.find(op, method, path, c, report.Error, RuleProblem, "answered %d with a problem that is not JSON: %v", status, err)
		return
	}
	var missing []string
	if p.Type == nil {
		missing = append(missing, "type")
	}
	if p.Title == nil {
		missing = append(missing, "title")
	}
	if p.Status == nil {
		missing = append(missing, "status")
	}
	if len(missing) > 0 {
		v.find(op, method, path, c, report.Error, RuleProblem, "answered %d with a problem without %s", status, strings.Join(missing, ", "))
		return
	}
	if *p.Status != status {
		v.find(op, method, path, c, report.Error, RuleProblem, "answered %d with a problem whose status is %d", status, *p.Status)
	}
}

// responseErrors turns a ValidateResponse error into one line per problem.
func responseErrors(err error) []string {
	var out []string
	for _, err := range leafErrors(err) {
		var re *openapi3filter.ResponseError
		if errors.As(err, &re) && re.Err != nil {
			if me, ok := re.Err.(openapi3.MultiError); ok {
				for _, e := range me {
					out = append(out, re.Reason+": "+schemaMessage(e))
				}
				continue
			}
			out = append(out, strings.TrimPrefix(re.Reason+": "+schemaMessage(re.Err), ": "))
			continue
		}
		out = append(out, schemaMessage(err))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// leafErrors flattens the openapi3.MultiErrors of err, nested ones too,
// into the errors they hold, in order; any other error is its own leaf.
func leafErrors(err error) []error {
	me, ok := err.(openapi3.MultiError)
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range me {
		out = append(out, leafErrors(e)...)
	}
	return out
}

func schemaMessage(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return schemaErrorLine(se, "body", ".")
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// schemaErrorLine names where in a value a schema error is — where, then
// the JSON pointer joined after sep — and what is wrong there.
func schemaErrorLine(se *openapi3.SchemaError, where, sep string) string {
	field := where
	if ptr := se.JSONPointer(); len(ptr) > 0 {
		field += sep + strings.Join(ptr, ".")
	}
	reason := se.Reason
	if reason == "" {
		reason = "does not match the schema (" + se.SchemaField + ")"
	}
	return field + ": " + reason
}

func codes(op *openapi3.Operation) string {
	if op.Responses == nil {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(op.Responses.Map())), ", ")
}
