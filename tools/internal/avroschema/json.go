package avroschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a schema file. Real schemas nest a few
// levels; the bound keeps a hostile file from exhausting the stack.
const maxDepth = 128

// kind is the JSON kind of a node.
type kind uint8

const (
	jsonNull kind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// node is a JSON value with the byte offset where it starts, so that every
// problem can be reported at its line and column.
type node struct {
	kind    kind
	str     string   // string value, or the literal of a number
	b       bool     // boolean value
	members []member // object members, in file order
	items   []*node  // array elements
	off     int      // offset of the value's first byte
}

// member is one key of an object with its value.
type member struct {
	key string
	off int // offset of the key's opening quote
	val *node
}

// get returns the member key of an object node, or nil.
func (n *node) get(key string) *member {
	if n == nil || n.kind != jsonObject {
		return nil
	}
	for i := range n.members {
		if n.members[i].key == key {
			return &n.members[i]
		}
	}
	return nil
}

// value converts the node to the Go value encoding/json would decode it to
// with UseNumber: nil, bool, json.Number, string, []any, map[string]any.
func (n *node) value() any {
	switch n.kind {
	case jsonBool:
		return n.b
	case jsonNumber:
		return json.Number(n.str)
	case jsonString:
		return n.str
	case jsonArray:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = it.value()
		}
		return out
	case jsonObject:
		out := make(map[string]any, len(n.members))
		for _, m := range n.members {
			out[m.key] = m.val.value()
		}
		return out
	}
	return nil
}

// source maps byte offsets of one file to 1-based line and column (in
// characters).
type source struct {
	data  []byte
	lines []int // offset of the start of each line
	ascii bool  // data holds no multi-byte rune: a column is a byte count
}

// newSource indexes the lines of data, so that pos is a binary search
// rather than a scan from the top: a large schema asks for thousands of
// positions.
func newSource(data []byte) source {
	s := source{data: data, lines: []int{0}, ascii: true}
	for i, c := range data {
		switch {
		case c == '\n':
			s.lines = append(s.lines, i+1)
		case c >= utf8.RuneSelf:
			s.ascii = false
		}
	}
	return s
}

// pos returns the line and column of offset off.
func (s source) pos(off int) (line, col int) {
	off = min(max(off, 0), len(s.data))
	if s.lines == nil {
		s = newSource(s.data)
	}
	i, found := slices.BinarySearch(s.lines, off)
	if !found {
		i--
	}
	start := s.lines[i]
	if s.ascii {
		return i + 1, off - start + 1
	}
	return i + 1, utf8.RuneCount(s.data[start:off]) + 1
}

// parser builds a node tree from a json.Decoder's tokens.
type parser struct {
	dec  *json.Decoder
	data []byte
}

// errAt is a JSON syntax problem at a byte offset.
type errAt struct {
	off int
	msg string
}

func (e *errAt) Error() string { return e.msg }

// parseJSON parses data, which must hold exactly one JSON value.
func parseJSON(data []byte) (*node, error) {
	p := &parser{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	off := p.start()
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &errAt{off: off, msg: "unexpected content after the schema"}
	}
	return n, nil
}

// start returns the offset of the next token: the decoder's offset past
// white space and the separators it has not consumed yet.
func (p *parser) start() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// token reads the next token, turning decoder errors into positions.
func (p *parser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err == nil {
		return tok, nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, &errAt{off: int(se.Offset) - 1, msg: "invalid JSON: " + se.Error()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &errAt{off: len(p.data), msg: "invalid JSON: unexpected end of file"}
	}
	return nil, &errAt{off: p.start(), msg: "invalid JSON: " + err.Error()}
}

func (p *parser) value(depth int) (*node, error) {
	off := p.start()
	if depth > maxDepth {
		return nil, &errAt{off: off, msg: fmt.Sprintf("the schema nests deeper than %d levels", maxDepth)}
	}
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	n := &node{off: off}
	switch t := tok.(type) {
	case nil:
		n.kind = jsonNull
	case bool:
		n.kind, n.b = jsonBool, t
	case json.Number:
		n.kind, n.str = jsonNumber, string(t)
	case string:
		n.kind, n.str = jsonString, t
	case json.Delim:
		switch t {
		case '[':
			n.kind = jsonArray
			for p.dec.More() {
				it, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, it)
			}
		case '{':
			n.kind = jsonObject
			seen := map[string]bool{}
			for p.dec.More() {
				koff := p.start()
				ktok, err := p.token()
				if err != nil {
					return nil, err
				}
				key, _ := ktok.(string)
				if seen[key] {
					return nil, &errAt{off: koff, msg: fmt.Sprintf("duplicate key %q", key)}
				}
				seen[key] = true
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: key, off: koff, val: val})
			}
		}
		if _, err := p.token(); err != nil { // the closing delimiter
			return nil, err
		}
	}
	return n, nil
}
