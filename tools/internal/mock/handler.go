package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/problem"
)

// PreferHeader is the request header that steers the mock, as Prism's
// does: "Prefer: code=503", "Prefer: example=suspended",
// "Prefer: dynamic=true" (generated data even where the contract has an
// example). Several preferences are separated by commas or semicolons.
const PreferHeader = "Prefer"

// UndocumentedHeader is set to "true" on a problem the mock answers for a
// status code the operation does not document (asked for with
// "Prefer: code=N").
const UndocumentedHeader = "Keiyaku-Mock-Undocumented"

// Option configures [NewHandler].
type Option func(*options)

type options struct {
	seed   uint64
	logger *slog.Logger
}

// WithSeed sets the seed of generated data, overriding the default 1. The
// same seed and the same request give the same response.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithLogger sets where the mock logs each answer, overriding the default
// that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// NewHandler returns a handler that answers the operations of doc from the
// contract alone. Every request first goes through the validation
// middleware of the generated servers (runtime/httpserver.Validator), so a
// request that breaks the contract gets the problem+json a real provider
// would send. A valid request is answered with:
//
//   - the status asked for with "Prefer: code=N" when the operation
//     documents it (exactly, as NXX, or by default); an undocumented N is
//     answered with an application/problem+json body of that status and the
//     header Keiyaku-Mock-Undocumented: true, so that a consumer can try its
//     fallbacks on any status;
//   - otherwise the lowest documented 2xx (else 3xx, else default);
//   - a body from the named example "Prefer: example=NAME" (400 if the
//     response has no such example), else the media type's example, else
//     its first named example (by name), else data generated from the
//     schema — using the schema's own examples where they validate, unless
//     "Prefer: dynamic=true" — deterministic for the seed and the request;
//   - every documented response header, from its example or schema.
//
// Problems answered by the mock carry the status in their body too. The
// handler is safe for concurrent use. NewHandler returns an error if doc
// is nil or not a valid OpenAPI document.
func NewHandler(doc *openapi3.T, opts ...Option) (http.Handler, error) {
	o := options{seed: 1, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if doc == nil {
		return nil, errors.New("mock: nil OpenAPI document")
	}
	validate, err := httpserver.Validator(doc)
	if err != nil {
		return nil, fmt.Errorf("mock: %w", err)
	}
	d := *doc
	d.Servers = nil
	router, err := legacy.NewRouter(&d)
	if err != nil {
		return nil, fmt.Errorf("mock: %w", err)
	}
	return httpserver.Chain(&responder{router: router, opts: o}, validate), nil
}

type responder struct {
	router routers.Router
	opts   options
}

// preferences are the parsed Prefer header values.
type preferences struct {
	code    int
	example string
	dynamic bool
}

func parsePrefer(h http.Header) (preferences, error) {
	var p preferences
	for _, v := range h.Values(PreferHeader) {
		for tok := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ';' }) {
			name, val, _ := strings.Cut(strings.TrimSpace(tok), "=")
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "code":
				n, err := strconv.Atoi(val)
				if err != nil || n < 200 || n > 599 {
					return p, fmt.Errorf("header Prefer: code=%q is not a status code from 200 to 599", val)
				}
				p.code = n
			case "example":
				p.example = val
			case "dynamic":
				p.dynamic = val == "true"
			}
		}
	}
	return p, nil
}

func (m *responder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, _, err := m.router.FindRoute(r)
	if err != nil && r.Method == http.MethodHead {
		get := *r
		get.Method = http.MethodGet
		route, _, err = m.router.FindRoute(&get)
	}
	if err != nil {
		// The validator in front answers unknown routes; this is a guard.
		problem.Write(w, problem.NotFound("no operation matches the request path"))
		return
	}
	prefs, err := parsePrefer(r.Header)
	if err != nil {
		problem.Write(w, problem.BadRequest(err.Error(), problem.FieldError{Field: "header.Prefer", Reason: "must name a status code from 200 to 599"}))
		return
	}
	op := route.Operation
	code, resp := chooseResponse(op, prefs.code)
	if resp == nil {
		w.Header().Set(UndocumentedHeader, "true")
		writeProblem(w, r, code, fmt.Sprintf("%s does not document status %d; the mock answers it as a problem so that fallbacks can be tried", opName(op, route), code))
		return
	}
	g := NewGenerator(m.opts.seed^requestHash(r), !prefs.dynamic)
	for _, name := range sortedKeys(resp.Headers) {
		h := resp.Headers[name]
		if h == nil || h.Value == nil || strings.EqualFold(name, "Content-Type") {
			continue
		}
		if v, err := headerValue(g, &h.Value.Parameter, prefs.dynamic); err == nil {
			w.Header().Set(name, v)
		}
	}
	if len(resp.Content) == 0 || code == http.StatusNoContent || code == http.StatusNotModified {
		if prefs.example != "" {
			writeProblem(w, r, http.StatusBadRequest, fmt.Sprintf("response %d of %s has no body, so no example %q", code, opName(op, route), prefs.example))
			return
		}
		w.WriteHeader(code)
		return
	}
	ct, mt := chooseMediaType(resp.Content, r.Header.Get("Accept"))
	body, err := m.body(g, mt, prefs, code)
	if err != nil {
		if errors.Is(err, errNoExample) {
			writeProblem(w, r, http.StatusBadRequest, fmt.Sprintf("response %d of %s: %v", code, opName(op, route), err))
			return
		}
		m.opts.logger.Warn("mock: no body for response", slog.String("operation", opName(op, route)), slog.Int("status", code), slog.Any("error", err))
		writeProblem(w, r, http.StatusInternalServerError, fmt.Sprintf("response %d of %s: %v", code, opName(op, route), err))
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		writeProblem(w, r, http.StatusInternalServerError, fmt.Sprintf("response %d of %s: encode the body: %v", code, opName(op, route), err))
		return
	}
	if base, _, _ := mime.ParseMediaType(ct); base == "" || strings.Contains(base, "*") {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// errNoExample reports a "Prefer: example=NAME" the response does not have.
var errNoExample = errors.New("no such example")

// body returns the response body for media type mt.
func (m *responder) body(g *Generator, mt *openapi3.MediaType, prefs preferences, code int) (any, error) {
	names := sortedKeys(mt.Examples)
	if prefs.example != "" {
		ex := mt.Examples[prefs.example]
		if ex == nil || ex.Value == nil {
			return nil, fmt.Errorf("%w %q (examples: %s)", errNoExample, prefs.example, orNone(names))
		}
		return normalize(ex.Value.Value)
	}
	if !prefs.dynamic {
		if mt.Example != nil {
			return normalize(mt.Example)
		}
		for _, name := range names {
			if ex := mt.Examples[name]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
				return normalize(ex.Value.Value)
			}
		}
	}
	if mt.Schema == nil || mt.Schema.Value == nil {
		return nil, errNoSchema
	}
	v, err := g.Value(mt.Schema.Value, Response)
	if err != nil {
		return nil, err
	}
	if obj, ok := v.(map[string]any); ok && code >= 400 {
		// A generated problem tells the status it was sent with.
		if _, ok := mt.Schema.Value.Properties["status"]; ok {
			obj["status"] = float64(code)
		}
		if _, ok := mt.Schema.Value.Properties["title"]; ok {
			obj["title"] = http.StatusText(code)
		}
	}
	return v, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// chooseResponse picks the documented response for want (0: the default
// choice). It returns the status to send and the response, nil when want
// is not documented.
func chooseResponse(op *openapi3.Operation, want int) (int, *openapi3.Response) {
	if op.Responses == nil {
		return orDefault(want, http.StatusOK), nil
	}
	if want != 0 {
		if ref := op.Responses.Status(want); ref != nil && ref.Value != nil {
			return want, ref.Value
		}
		if ref := op.Responses.Default(); ref != nil && ref.Value != nil {
			return want, ref.Value
		}
		return want, nil
	}
	codes := documentedCodes(op)
	for _, class := range []int{2, 3} {
		for _, c := range codes {
			if c.code/100 == class {
				return c.code, c.resp
			}
		}
	}
	if ref := op.Responses.Default(); ref != nil && ref.Value != nil {
		return http.StatusOK, ref.Value
	}
	if len(codes) > 0 {
		return codes[0].code, codes[0].resp
	}
	return http.StatusOK, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

type documented struct {
	code int
	resp *openapi3.Response
}

// documentedCodes lists the documented statuses of op in order, a range
// "2XX" standing for its first code (200).
func documentedCodes(op *openapi3.Operation) []documented {
	var out []documented
	for key, ref := range op.Responses.Map() {
		if ref == nil || ref.Value == nil {
			continue
		}
		if n, err := strconv.Atoi(key); err == nil {
			out = append(out, documented{n, ref.Value})
		} else if len(key) == 3 && strings.EqualFold(key[1:], "XX") && key[0] >= '1' && key[0] <= '5' {
			out = append(out, documented{int(key[0]-'0') * 100, ref.Value})
		}
	}
	slices.SortFunc(out, func(a, b documented) int { return a.code - b.code })
	return out
}

// chooseMediaType picks the media type to answer: the first of Accept the
// response declares, else JSON, else the first declared.
func chooseMediaType(content openapi3.Content, accept string) (string, *openapi3.MediaType) {
	for part := range strings.SplitSeq(accept, ",") {
		t, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt := content[t]; mt != nil {
			return t, mt
		}
	}
	names := sortedKeys(content)
	for _, t := range names {
		if t == "application/json" || strings.HasSuffix(t, "+json") {
			return t, content[t]
		}
	}
	return names[0], content[names[0]]
}

// headerValue returns the value of a documented header.
func headerValue(g *Generator, p *openapi3.Parameter, dynamic bool) (string, error) {
	if !dynamic && p.Example != nil {
		return ParamString(p.Example), nil
	}
	if p.Schema == nil || p.Schema.Value == nil {
		return "", errNoSchema
	}
	v, err := g.Value(p.Schema.Value, Response)
	if err != nil {
		return "", err
	}
	return ParamString(v), nil
}

// ParamString formats a parameter value as it goes in a path, query or
// header: strings as they are, arrays joined by commas (the simple style),
// nil as "", other values as JSON.
func ParamString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = ParamString(e)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func writeProblem(w http.ResponseWriter, r *http.Request, code int, detail string) {
	p := problem.New(code, detail)
	p.Instance = r.URL.EscapedPath()
	problem.Write(w, p)
}

func opName(op *openapi3.Operation, route *routers.Route) string {
	name := route.Method + " " + route.Path
	if op.OperationID != "" {
		return op.OperationID + " (" + name + ")"
	}
	return name
}

// requestHash makes generated data depend on the request, so that the same
// request gets the same answer whatever came before it.
func requestHash(r *http.Request) uint64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get(PreferHeader))
	return h.Sum64()
}
