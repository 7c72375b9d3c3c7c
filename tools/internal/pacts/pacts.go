// Package pacts reads the Pact files of a workspace (pacts/*.json, Pact
// specification v2/v3: HTTP interactions and messages) and cross-checks
// them against the providers' contracts: every HTTP interaction must fit
// the provider's OpenAPI document, every message's contents must be a
// valid instance of its Avro schema. It also tells which consumers use an
// operation or a field, for annotating breaking changes.
//
// Problems with a pact are returned as [Problem] values (data, the gate's
// findings); a pact file that cannot be read or parsed is an error.
package pacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
)

// Dir is the folder of the pact files, relative to the workspace root.
const Dir = "pacts"

// maxFileSize bounds one pact file, so that a huge file is refused rather
// than read into memory.
const maxFileSize = 16 << 20

// File is one pact: a consumer's expectations of one provider.
type File struct {
	// Path is the workspace-relative path, e.g. "pacts/reservation-member.json".
	Path     string
	Consumer string
	Provider string
	// Interactions are the HTTP interactions, Messages the messages; a
	// pact holds one kind or the other.
	Interactions []*Interaction
	Messages     []*Message
}

// Interaction is one HTTP request a consumer makes and the response it
// expects.
type Interaction struct {
	Description string
	// Line and Column locate the interaction's description in the file.
	Line, Column int
	Request      Request
	Response     Response
}

// Request is the request of an interaction.
type Request struct {
	Method  string
	Path    string
	Query   map[string][]string
	Headers map[string]string
	Body    json.RawMessage // nil when there is none
}

// Response is the response a consumer expects.
type Response struct {
	Status  int
	Headers map[string]string
	Body    json.RawMessage
}

// Message is one message a consumer expects.
type Message struct {
	Description  string
	Line, Column int
	Contents     json.RawMessage
	Metadata     map[string]any
}

// Type is the message's ce_type metadata (its CloudEvents type: the Avro
// full name of the event), empty when it has none.
func (m *Message) Type() string {
	s, _ := m.Metadata["ce_type"].(string)
	return s
}

// Load reads every pacts/*.json of fsys, sorted by path. A workspace
// without a pacts folder has no pacts: nil and no error.
func Load(fsys fs.FS) ([]*File, error) {
	names, err := fs.Glob(fsys, Dir+"/*.json")
	if err != nil {
		return nil, fmt.Errorf("list pacts: %w", err)
	}
	sort.Strings(names)
	var files []*File
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read pact: %w", err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(io.LimitReader(f, maxFileSize+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read pact %s: %w", name, err)
		}
		if buf.Len() > maxFileSize {
			return nil, fmt.Errorf("pact %s: larger than %d bytes", name, maxFileSize)
		}
		p, err := Parse(name, buf.Bytes())
		if err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

// Parse reads one pact file's data; name is its workspace-relative path.
func Parse(name string, data []byte) (*File, error) {
	var raw struct {
		Consumer     struct{ Name string } `json:"consumer"`
		Provider     struct{ Name string } `json:"provider"`
		Interactions []struct {
			Description string `json:"description"`
			Type        string `json:"type"`
			Request     struct {
				Method  string            `json:"method"`
				Path    string            `json:"path"`
				Query   json.RawMessage   `json:"query"`
				Headers map[string]string `json:"headers"`
				Body    json.RawMessage   `json:"body"`
			} `json:"request"`
			Response struct {
				Status  int               `json:"status"`
				Headers map[string]string `json:"headers"`
				Body    json.RawMessage   `json:"body"`
			} `json:"response"`
		} `json:"interactions"`
		Messages []struct {
			Description string          `json:"description"`
			Contents    json.RawMessage `json:"contents"`
			Metadata    map[string]any  `json:"metadata"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("pact %s: not a pact file: %w", name, err)
	}
	if raw.Consumer.Name == "" || raw.Provider.Name == "" {
		return nil, fmt.Errorf("pact %s: consumer and provider names are required", name)
	}
	f := &File{Path: name, Consumer: raw.Consumer.Name, Provider: raw.Provider.Name}
	for _, in := range raw.Interactions {
		if in.Type != "" && in.Type != "Synchronous/HTTP" {
			return nil, fmt.Errorf("pact %s: interaction %q: type %q is not supported (write Pact specification v3 files)", name, in.Description, in.Type)
		}
		query, err := parseQuery(in.Request.Query)
		if err != nil {
			return nil, fmt.Errorf("pact %s: interaction %q: query: %w", name, in.Description, err)
		}
		line, col := position(data, in.Description)
		f.Interactions = append(f.Interactions, &Interaction{
			Description: in.Description, Line: line, Column: col,
			Request: Request{Method: strings.ToUpper(in.Request.Method), Path: in.Request.Path, Query: query,
				Headers: in.Request.Headers, Body: nonNull(in.Request.Body)},
			Response: Response{Status: in.Response.Status, Headers: in.Response.Headers, Body: nonNull(in.Response.Body)},
		})
	}
	for _, m := range raw.Messages {
		line, col := position(data, m.Description)
		f.Messages = append(f.Messages, &Message{Description: m.Description, Line: line, Column: col,
			Contents: nonNull(m.Contents), Metadata: m.Metadata})
	}
	return f, nil
}

func nonNull(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	return b
}

// parseQuery reads a v3 query (name → values) or a v2 one (a query string).
func parseQuery(raw json.RawMessage) (map[string][]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var v3 map[string][]string
	if err := json.Unmarshal(raw, &v3); err == nil {
		return v3, nil
	}
	var v2 string
	if err := json.Unmarshal(raw, &v2); err != nil {
		return nil, errors.New("neither a map of values nor a query string")
	}
	q := map[string][]string{}
	for _, kv := range strings.Split(v2, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		q[k] = append(q[k], v)
	}
	return q, nil
}

// position finds the line and column of the "description" key whose value
// is desc (the first one), 0, 0 when it is not found.
func position(data []byte, desc string) (int, int) {
	enc, err := json.Marshal(desc)
	if err != nil {
		return 0, 0
	}
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], []byte(`"description"`))
		if i < 0 {
			return 0, 0
		}
		at := off + i
		rest := bytes.TrimLeft(data[at+len(`"description"`):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' && bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), enc) {
			line := 1 + bytes.Count(data[:at], []byte("\n"))
			col := at - bytes.LastIndexByte(data[:at], '\n')
			return line, col
		}
		off = at + 1
	}
	return 0, 0
}

// Fields returns the paths of the fields a JSON document holds, with "/"
// between levels and arrays transparent (items/price), sorted: what a
// consumer reads of a body or a message.
func Fields(doc json.RawMessage) []string {
	var v any
	if len(doc) == 0 || json.Unmarshal(doc, &v) != nil {
		return nil
	}
	set := map[string]bool{}
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		if depth > 64 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := path.Join(prefix, k)
				set[p] = true
				walk(p, c, depth+1)
			}
		case []any:
			for _, c := range x {
				walk(prefix, c, depth+1)
			}
		}
	}
	walk("", v, 0)
	return slices.Sorted(maps.Keys(set))
}
