package linter

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
)

// ProblemJSON is the media type of every error response (RFC 9457).
const ProblemJSON = "application/problem+json"

// Rules is the rule table, in the order the rules run.
var Rules = []Rule{
	{
		ID:          "OPERATION_ID_REQUIRED",
		Severity:    Error,
		Category:    CategoryConventions,
		Description: "Every operation has an operationId: generated Go names and findings are derived from it.",
		Check:       checkOperationID,
	},
	{
		ID:          "ERROR_RESPONSE_PROBLEM_JSON",
		Severity:    Error,
		Category:    CategoryConventions,
		Description: "Every 4xx, 5xx and default response is application/problem+json (RFC 9457), so clients handle all errors one way.",
		Check:       checkProblemJSON,
	},
	{
		ID:          "IDEMPOTENCY_KEY_ON_CREATE",
		Severity:    Error,
		Category:    CategoryConventions,
		Description: "A POST that creates something (a 201 response) takes an Idempotency-Key header, so that a client may retry it safely.",
		Check:       checkIdempotencyKey,
	},
	{
		ID:            "ASYNCAPI_NOT_GENERATED",
		Severity:      Info,
		Category:      CategoryConventions,
		Description:   "Says what of an AsyncAPI document generate leaves out and why: channels of other protocols than Kafka, addresses with parameters or none, messages without a payload or whose payload is an Avro schema that is not a record, JSON Schema payloads of a content type that is not JSON. They are valid AsyncAPI, checked by lint, with no generated code.",
		CheckAsyncAPI: checkAsyncAPINotGenerated,
	},
	{
		ID:            "ASYNCAPI_PAYLOAD_UNTYPED",
		Severity:      Warning,
		Category:      CategoryConventions,
		Description:   "Names each part of a JSON Schema payload that generate does not type: a oneOf or anyOf of several schemas (generated as json.RawMessage, for the handler to decode), a property encoding/json cannot name in a struct tag (left out). The code compiles and carries the rest typed.",
		CheckAsyncAPI: checkAsyncAPIPayloadUntyped,
	},
	{
		ID:          "AVRO_DOC_REQUIRED",
		Severity:    Error,
		Category:    CategoryConventions,
		Description: "Every Avro record, enum and field has a doc: the schema is the contract consumers read.",
		CheckAvro:   checkAvroDocs,
	},
	{
		ID:          "AVRO_ENUM_DEFAULT",
		Severity:    Warning,
		Category:    CategoryConventions,
		Description: "Every Avro enum has a default symbol, so that a consumer built before a symbol was added can still read the event (forward compatibility).",
		CheckAvro:   checkAvroEnumDefault,
	},
	{
		ID:          "AVRO_NAMESPACE_MATCHES_PATH",
		Severity:    Error,
		Category:    CategoryConventions,
		Description: "An Avro namespace ends with the service and version of the contract folder (contracts/reservation/v1 → ….reservation.v1), so a full name says who owns the schema.",
		CheckAvro:   checkAvroNamespace,
	},
	{
		ID:             "SYNC_CHAIN_TOO_LONG",
		Severity:       Warning,
		Category:       CategoryArchitecture,
		Description:    "No chain of synchronous calls (keiyaku.yaml uses) is longer than lint.max_sync_depth hops: A→B→C→D stalls A whenever D is slow.",
		CheckWorkspace: syncChains,
	},
	{
		ID:             "UNDECLARED_CLIENT_IMPORT",
		Severity:       Error,
		Category:       CategoryArchitecture,
		Description:    "Service code under services/<name>/ imports the generated package of another service only if keiyaku.yaml declares that it uses it.",
		CheckWorkspace: checkClientImports,
	},
	{
		ID:             "PACT_MATCHES_OPENAPI",
		Severity:       Error,
		Category:       CategoryArchitecture,
		Description:    "Every HTTP interaction of a pact (pacts/*.json) fits the provider's OpenAPI document: its path and method exist, its request validates, its response status is documented and its body validates.",
		CheckWorkspace: checkPactsOpenAPI,
	},
	{
		ID:             "PACT_MATCHES_AVRO",
		Severity:       Error,
		Category:       CategoryArchitecture,
		Description:    "Every message of a pact (pacts/*.json) names its event by ce_type metadata, and its contents are a valid instance of that Avro schema of the provider (JSON view: Avro's JSON encoding, decimals as numbers).",
		CheckWorkspace: checkPactsAvro,
	},
}

// IdempotencyKeyHeader is the request header that makes a POST safe to
// retry.
const IdempotencyKeyHeader = "Idempotency-Key"

func operations(doc *openapi3.T, fn func(path, method string, op *openapi3.Operation)) {
	if doc.Paths == nil {
		return
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		ops := doc.Paths.Value(p).Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			fn(p, method, ops[method])
		}
	}
}

func keyOf(o *openapi3.Origin) *openapi3.Location {
	if o == nil {
		return nil
	}
	return o.Key
}

func checkOperationID(doc *openapi3.T, report func(*openapi3.Location, string)) {
	operations(doc, func(path, method string, op *openapi3.Operation) {
		if op.OperationID == "" {
			report(keyOf(op.Origin), fmt.Sprintf("%s %s has no operationId; add one in lowerCamelCase, e.g. %q", method, path, suggestOperationID(method, path)))
		}
	})
}

func checkProblemJSON(doc *openapi3.T, report func(*openapi3.Location, string)) {
	operations(doc, func(path, method string, op *openapi3.Operation) {
		if op.Responses == nil {
			return
		}
		for _, code := range slices.Sorted(maps.Keys(op.Responses.Map())) {
			if !(code == "default" || strings.HasPrefix(code, "4") || strings.HasPrefix(code, "5")) {
				continue
			}
			r := op.Responses.Value(code)
			if r == nil || r.Value == nil {
				continue
			}
			types := slices.Sorted(maps.Keys(r.Value.Content))
			if len(types) == 1 && types[0] == ProblemJSON {
				continue
			}
			loc := keyOf(r.Value.Origin)
			if loc == nil {
				loc = keyOf(op.Origin)
			}
			have := "no content"
			if len(types) > 0 {
				have = strings.Join(types, ", ")
			}
			report(loc, fmt.Sprintf("%s %s response %s has %s; error responses carry exactly %s", method, path, code, have, ProblemJSON))
		}
	})
}

// suggestOperationID proposes an operationId from the method and the last
// literal path segment: POST /rooms/{roomId}/holds → "postHolds".
func suggestOperationID(method, path string) string {
	noun := "Root"
	for _, seg := range strings.Split(path, "/") {
		if seg != "" && !strings.HasPrefix(seg, "{") {
			noun = seg
		}
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	upper := true
	for _, r := range noun {
		if r == '-' || r == '_' || r == '.' {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func checkIdempotencyKey(doc *openapi3.T, report func(*openapi3.Location, string)) {
	operations(doc, func(path, method string, op *openapi3.Operation) {
		if method != "POST" || op.Responses == nil || op.Responses.Value("201") == nil {
			return
		}
		for _, p := range op.Parameters {
			if p.Value != nil && p.Value.In == openapi3.ParameterInHeader && strings.EqualFold(p.Value.Name, IdempotencyKeyHeader) {
				return
			}
		}
		report(keyOf(op.Origin), fmt.Sprintf("%s %s creates (201) but takes no %s header; add it (required) so that clients may retry without creating twice", method, path, IdempotencyKeyHeader))
	})
}
