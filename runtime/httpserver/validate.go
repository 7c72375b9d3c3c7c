package httpserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// ValidatorOption configures [Validator].
type ValidatorOption func(*validatorConfig)

type validatorConfig struct {
	formats map[string]func(string) error
}

// WithStringFormat sets the check of the string format name (the "format"
// keyword of a schema), adding to or overriding the defaults: uuid (the
// canonical 8-4-4-4-12 hexadecimal form, any version), date (RFC 3339
// full-date), date-time (RFC 3339) and byte (base64). Formats without a
// check are accepted as any string. check returns an error when the value
// is not in the format; its text is not shown to clients.
func WithStringFormat(name string, check func(string) error) ValidatorOption {
	return func(c *validatorConfig) { c.formats[name] = check }
}

// Validator returns a middleware that checks every request against the
// operations of doc before the next handler sees it, and answers requests
// that break the contract itself, as application/problem+json:
//
//   - a path that no operation declares: 404 Not Found;
//   - a declared path with a method it does not declare: 405 Method Not
//     Allowed, with an Allow header listing the declared methods (HEAD is
//     allowed wherever GET is);
//   - a path with an encoded slash or backslash (%2F, %5C) or a dot
//     segment ("." or "..", also percent-encoded): 400 Bad Request, so that
//     the router behind cannot be led to another route than the one
//     validated;
//   - a request body larger than the limit set by the server (an
//     [http.MaxBytesError] while reading): 413 Content Too Large;
//   - any other violation: 400 Bad Request, with one errors[] entry per
//     offending value (see below).
//
// The rule for 400 versus 422: every violation of the contract is a 400 —
// malformed JSON, a wrong Content-Type, a missing or mistyped parameter, a
// single-valued query or header parameter sent twice, a body where the
// operation takes none, a JSON body with data after its value or with a key
// repeated in an object (reported at the key, e.g. "body.checkIn"), a body
// that breaks its schema (missing property,
// wrong type, bad format, out of bounds, not in the enum). This is what the shared BadRequest
// response of contracts/shared/v1/problem.yaml promises, and every
// operation documents it. 422 Unprocessable Entity is left to the
// handlers, for well-formed requests that a business rule rejects, and to
// the [Idempotency] middleware for a reused key.
//
// Each errors[] entry names the value by where it was found: "path.roomId",
// "query.checkOut", "header.Idempotency-Key", "body.checkIn" (nested:
// "body.guest.name", array items by index: "body.rooms.0"), or "body" for
// the body as a whole. Reasons never repeat the value sent.
//
// Paths are matched segment by segment, as net/http's ServeMux matches the
// generated routes: a trailing slash, an empty segment or an empty path
// parameter matches no operation (404), so that a request is never
// validated against one operation and served by another.
//
// Matching ignores the servers of doc: operations are matched on the
// request path alone, on any host and scheme, which is how the generated
// handlers mount them (at the root, without the servers' base path).
// Validator works on a shallow copy of doc with its servers cleared; it
// does not change doc, and doc must not change afterwards.
//
// Validation does not authenticate: security requirements of doc are
// accepted as met. The whole request body is read into memory (and handed
// on to the next handler unchanged), so the body must be bounded before
// Validator — [Server] does that.
//
// Validator returns an error if doc is nil or not a valid OpenAPI document.
// The middleware is safe for concurrent use.
func Validator(doc *openapi3.T, opts ...ValidatorOption) (func(http.Handler) http.Handler, error) {
	if doc == nil {
		return nil, errors.New("httpserver: validator: nil OpenAPI document")
	}
	cfg := validatorConfig{formats: map[string]func(string) error{
		"uuid": checkUUID,
	}}
	for _, o := range opts {
		o(&cfg)
	}
	d := *doc
	d.Servers = nil
	router, err := legacy.NewRouter(&d)
	if err != nil {
		return nil, fmt.Errorf("httpserver: validator: %w", err)
	}
	schemaOpts := []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}
	for name, check := range cfg.formats {
		if check == nil {
			return nil, fmt.Errorf("httpserver: validator: nil check for format %q", name)
		}
		schemaOpts = append(schemaOpts, openapi3.WithStringFormatValidator(name, openapi3.NewCallbackValidator(check)))
	}
	v := &validator{
		router: router,
		options: &openapi3filter.Options{
			MultiError:                        true,
			AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
			RejectWhenRequestBodyNotSpecified: true,
			SchemaValidationOptions:           schemaOpts,
		},
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v.check(w, r) {
				next.ServeHTTP(w, r)
			}
		})
	}, nil
}

type validator struct {
	router  routers.Router
	options *openapi3filter.Options
}

// check validates r; when r is invalid it writes the problem and returns
// false.
func (v *validator) check(w http.ResponseWriter, r *http.Request) bool {
	if reason := unsafePath(r); reason != "" {
		p := problem.BadRequest("the request path is not acceptable", problem.FieldError{Field: "path", Reason: reason})
		p.Instance = r.URL.EscapedPath()
		problem.Write(w, p)
		return false
	}
	route, params, err := v.findRoute(r)
	if err != nil {
		if allowed, template := v.allowedMethods(r); len(allowed) > 0 {
			setRoute(r, template)
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			p := problem.MethodNotAllowed(fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", ")))
			p.Instance = r.URL.EscapedPath()
			problem.Write(w, p)
			return false
		}
		p := problem.NotFound("no operation matches the request path")
		p.Instance = r.URL.EscapedPath()
		problem.Write(w, p)
		return false
	}
	setRoute(r, route.Path)
	strict, err := strictJSONBody(r)
	if err != nil || strict != nil {
		var errs []problem.FieldError
		if strict != nil {
			errs = append(errs, *strict)
		} else if !errors.As(err, new(*http.MaxBytesError)) {
			errs = append(errs, problem.FieldError{Field: "body", Reason: "cannot be read"})
			err = nil
		}
		p := validationProblem(err, errs)
		p.Instance = r.URL.EscapedPath()
		problem.Write(w, p)
		return false
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: v.options}
	err = openapi3filter.ValidateRequest(r.Context(), in)
	repeated := repeatedParams(r, route)
	if err != nil || len(repeated) > 0 {
		p := validationProblem(err, repeated)
		p.Instance = r.URL.EscapedPath()
		problem.Write(w, p)
		return false
	}
	return true
}

// repeatedParams reports the single-valued query and header parameters
// of the operation sent more than once: the validator would check one
// value and the handler might bind another.
func repeatedParams(r *http.Request, route *routers.Route) []problem.FieldError {
	var out []problem.FieldError
	var query url.Values
	for _, params := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, ref := range params {
			p := ref.Value
			if p == nil || p.Schema == nil || p.Schema.Value == nil || p.Schema.Value.Type.Is(openapi3.TypeArray) {
				continue
			}
			n := 0
			switch p.In {
			case openapi3.ParameterInQuery:
				if query == nil {
					query = r.URL.Query()
				}
				n = len(query[p.Name])
			case openapi3.ParameterInHeader:
				n = len(r.Header.Values(p.Name))
			}
			if n > 1 {
				out = append(out, problem.FieldError{Field: p.In + "." + p.Name, Reason: "must be sent once"})
			}
		}
	}
	return out
}

// findRoute matches r, answering HEAD with the GET operation when the
// path declares no HEAD.
func (v *validator) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := v.match(r)
	if err != nil && r.Method == http.MethodHead {
		get := *r
		get.Method = http.MethodGet
		route, params, err = v.match(&get)
	}
	return route, params, err
}

// match finds the operation of r. The router is lenient (it ignores
// trailing slashes and lets a path variable match nothing); match holds
// the path to the template segment by segment, as net/http's ServeMux
// behind it does, so that a request validated against one operation is
// never routed to another, or to a text/plain 404.
func (v *validator) match(r *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil, nil, err
	}
	if !sameShape(route.Path, r.URL.Path) {
		return nil, nil, routers.ErrPathNotFound
	}
	return route, params, nil
}

// sameShape reports whether path has the segments of template: equal
// literals, and a non-empty segment for each segment with a variable.
func sameShape(template, path string) bool {
	if strings.Count(template, "/") != strings.Count(path, "/") {
		return false
	}
	for {
		tseg, trest, tmore := strings.Cut(template, "/")
		pseg, prest, _ := strings.Cut(path, "/")
		if open := strings.IndexByte(tseg, '{'); open >= 0 {
			closing := strings.LastIndexByte(tseg, '}')
			prefix, suffix := tseg[:open], ""
			if closing > open {
				suffix = tseg[closing+1:]
			}
			if len(pseg) <= len(prefix)+len(suffix) || !strings.HasPrefix(pseg, prefix) || !strings.HasSuffix(pseg, suffix) {
				return false
			}
		} else if tseg != pseg {
			return false
		}
		if !tmore {
			return true
		}
		template, path = trest, prest
	}
}

var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace,
}

// allowedMethods lists the methods whose operations match the path of r,
// and the path template they share.
func (v *validator) allowedMethods(r *http.Request) (allowed []string, template string) {
	probe := *r
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe.Method = m
		if route, _, err := v.findRoute(&probe); err == nil {
			allowed = append(allowed, m)
			template = route.Path
		}
	}
	return allowed, template
}

// setRoute records the path template of the operation r was matched to as
// r.Pattern, unless a pattern is set already, so that a response written
// before the router behind (a 400, 405 or 413 here, a replay of the
// Idempotency middleware) is still measured and traced with its route:
// the http.route attribute, the http_route label of otelhttp's metrics.
// The router (a ServeMux) overwrites it with its own pattern.
func setRoute(r *http.Request, template string) {
	if r.Pattern == "" && template != "" {
		r.Pattern = template
	}
}

// unsafePath says why the path of r could be read two ways, or "".
func unsafePath(r *http.Request) string {
	raw := r.URL.EscapedPath()
	if i := strings.IndexByte(raw, '%'); i >= 0 {
		lower := strings.ToLower(raw[i:])
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			return "must not contain an encoded slash or backslash"
		}
	}
	for seg := range strings.SplitSeq(r.URL.Path, "/") {
		if seg == "." || seg == ".." {
			return "must not contain a dot segment"
		}
	}
	return ""
}

// validationProblem turns a ValidateRequest error into a 400 problem with
// one entry per offending value, or a 413 problem when the body was too
// large.
func validationProblem(err error, errs []problem.FieldError) *problem.Problem {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return problem.TooLarge(fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit))
	}
	if err != nil {
		collectFieldErrors(err, &errs)
	}
	slices.SortStableFunc(errs, func(a, b problem.FieldError) int { return strings.Compare(a.Field, b.Field) })
	errs = slices.Compact(errs)
	return problem.BadRequest("request validation failed", errs...)
}

func collectFieldErrors(err error, out *[]problem.FieldError) {
	if me, ok := err.(openapi3.MultiError); ok {
		for _, e := range me {
			collectFieldErrors(e, out)
		}
		return
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		*out = append(*out, problem.FieldError{Field: "request", Reason: "is invalid"})
		return
	}
	switch {
	case re.Parameter != nil:
		field := re.Parameter.In + "." + re.Parameter.Name
		paramReasons(field, re.Parameter, re.Err, out)
	case re.RequestBody != nil:
		bodyReasons(re, out)
	default:
		// The only other RequestError: a body where none is declared.
		*out = append(*out, problem.FieldError{Field: "body", Reason: "is not allowed for this operation"})
	}
}

func paramReasons(field string, p *openapi3.Parameter, err error, out *[]problem.FieldError) {
	var pe *openapi3filter.ParseError
	switch {
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		*out = append(*out, problem.FieldError{Field: field, Reason: "is required"})
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		*out = append(*out, problem.FieldError{Field: field, Reason: "must not be empty"})
	case errors.As(err, &pe):
		reason := "cannot be parsed"
		if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type != nil && len(p.Schema.Value.Type.Slice()) > 0 {
			reason += " as " + strings.Join(p.Schema.Value.Type.Slice(), " or ")
		}
		*out = append(*out, problem.FieldError{Field: field, Reason: reason})
	default:
		schemaReasons(field, err, out)
	}
}

func bodyReasons(re *openapi3filter.RequestError, out *[]problem.FieldError) {
	var pe *openapi3filter.ParseError
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		*out = append(*out, problem.FieldError{Field: "body", Reason: "is required"})
	case re.Err == nil && strings.HasPrefix(re.Reason, "header Content-Type"):
		types := make([]string, 0, len(re.RequestBody.Content))
		for ct := range re.RequestBody.Content {
			types = append(types, ct)
		}
		slices.Sort(types)
		*out = append(*out, problem.FieldError{Field: "header.Content-Type", Reason: "must be " + strings.Join(types, " or ")})
	case errors.As(re.Err, &pe):
		*out = append(*out, problem.FieldError{Field: "body", Reason: "cannot be decoded: " + pe.Error()})
	case re.Err != nil && re.Reason == "reading failed":
		*out = append(*out, problem.FieldError{Field: "body", Reason: "cannot be read"})
	default:
		schemaReasons("body", re.Err, out)
	}
}

// schemaReasons adds one entry per schema error in err, naming the value
// by its JSON pointer below field.
func schemaReasons(field string, err error, out *[]problem.FieldError) {
	if me, ok := err.(openapi3.MultiError); ok {
		for _, e := range me {
			schemaReasons(field, e, out)
		}
		return
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		*out = append(*out, problem.FieldError{Field: field, Reason: "is invalid"})
		return
	}
	if ptr := se.JSONPointer(); len(ptr) > 0 {
		field += "." + strings.Join(ptr, ".")
	}
	*out = append(*out, problem.FieldError{Field: field, Reason: schemaReason(se)})
}

func schemaReason(se *openapi3.SchemaError) string {
	switch se.SchemaField {
	case "required":
		return "is required"
	case "format":
		if se.Schema != nil && se.Schema.Format != "" {
			return "must be a valid " + se.Schema.Format
		}
	}
	if se.Reason == "" {
		return "does not match the schema (" + se.SchemaField + ")"
	}
	return strings.TrimPrefix(se.Reason, "value ")
}

// checkUUID accepts the canonical textual form of a UUID, any version.
func checkUUID(s string) error {
	if len(s) != 36 {
		return errors.New("not a UUID")
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return errors.New("not a UUID")
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return errors.New("not a UUID")
			}
		}
	}
	return nil
}
