package httpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// maxJSONDepth bounds the nesting of a JSON body the strict check walks.
const maxJSONDepth = 256

// errMalformed stops the strict walk at JSON that does not parse; the
// validator reports it as malformed.
var errMalformed = errors.New("malformed JSON")

// strictJSONBody reads r's body when it is JSON (application/json or
// +json) and reports, as one field error, what a JSON decoder would let
// through silently: data after the JSON value, a key repeated in an object
// (which of the values a reader takes depends on the reader) or nesting
// deeper than maxJSONDepth. It puts the body back on r for the next
// reader. A body that does not parse is left to the validator; err is the
// error of reading the body (e.g. an [http.MaxBytesError]).
func strictJSONBody(r *http.Request) (fe *problem.FieldError, err error) {
	if r.Body == nil || r.Body == http.NoBody || !isJSON(r.Header.Get("Content-Type")) {
		return nil, nil
	}
	data, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	switch field, reason, werr := walkJSON(dec, "body", 0); {
	case errors.Is(werr, errMalformed):
		return nil, nil
	case reason != "":
		return &problem.FieldError{Field: field, Reason: reason}, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return &problem.FieldError{Field: "body", Reason: "has data after the JSON value"}, nil
	}
	return nil, nil
}

// walkJSON reads one JSON value from dec; field and reason name the first
// duplicate key or too deep nesting found under path.
func walkJSON(dec *json.Decoder, path string, depth int) (field, reason string, err error) {
	tok, err := dec.Token()
	if err != nil {
		return "", "", errMalformed
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return "", "", nil // a scalar
	}
	if depth >= maxJSONDepth {
		return "body", "is nested more than " + strconv.Itoa(maxJSONDepth) + " levels deep", nil
	}
	switch delim {
	case '{':
		seen := make(map[string]struct{})
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", "", errMalformed
			}
			key, _ := kt.(string)
			child := path + "." + key
			if _, dup := seen[key]; dup {
				return child, "is a duplicate key", nil
			}
			seen[key] = struct{}{}
			if field, reason, err := walkJSON(dec, child, depth+1); err != nil || reason != "" {
				return field, reason, err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if field, reason, err := walkJSON(dec, path+"."+strconv.Itoa(i), depth+1); err != nil || reason != "" {
				return field, reason, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return "", "", errMalformed
	}
	return "", "", nil
}

// isJSON reports whether a Content-Type is application/json or a +json
// type.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
