package pacts

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestParseBadInput pins that a malformed pact file is a clear error
// naming the file, never a panic.
func TestParseBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, want string
	}{
		{"not json", `{"consumer":`, "pacts/x.json: not a pact file"},
		{"no names", `{"interactions":[]}`, "consumer and provider names are required"},
		{"v4 message", `{"consumer":{"name":"a"},"provider":{"name":"b"},"interactions":[{"description":"d","type":"Asynchronous/Messages"}]}`, `type "Asynchronous/Messages" is not supported`},
		{"bad query", `{"consumer":{"name":"a"},"provider":{"name":"b"},"interactions":[{"description":"d","request":{"method":"GET","path":"/","query":7}}]}`, "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("pacts/x.json", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestLoad pins that pacts are read sorted, with each interaction's
// position and v2 query strings, and that a workspace without pacts/ has
// none.
func TestLoad(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"pacts/b-x.json": {Data: []byte("{\n  \"consumer\": {\"name\": \"b\"},\n  \"provider\": {\"name\": \"x\"},\n  \"interactions\": [\n    {\"description\": \"one\", \"request\": {\"method\": \"get\", \"path\": \"/t\", \"query\": \"a=1&a=2\"}, \"response\": {\"status\": 200}}\n  ]\n}\n")},
		"pacts/a-x.json": {Data: []byte(`{"consumer":{"name":"a"},"provider":{"name":"x"},"messages":[{"description":"m","metadata":{"ce_type":"n.T"},"contents":{"k":1}}]}`)},
	}
	files, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Consumer != "a" || files[1].Consumer != "b" {
		t.Fatalf("files = %+v", files)
	}
	in := files[1].Interactions[0]
	if in.Line != 5 || in.Column != 6 || in.Request.Method != "GET" || !slices.Equal(in.Request.Query["a"], []string{"1", "2"}) {
		t.Errorf("interaction = %+v", in)
	}
	if files[0].Messages[0].Type() != "n.T" {
		t.Errorf("message type = %q", files[0].Messages[0].Type())
	}
	none, err := Load(fstest.MapFS{})
	if err != nil || none != nil {
		t.Errorf("empty workspace: %v, %v", none, err)
	}
}

// TestUses pins which consumers use an operation or an event, and which
// fields they read.
func TestUses(t *testing.T) {
	t.Parallel()
	files := []*File{
		{Path: "pacts/r-m.json", Consumer: "r", Provider: "m", Interactions: []*Interaction{
			{Request: Request{Method: "GET", Path: "/members/1"}, Response: Response{Body: []byte(`{"status":"a","rate":{"amount":"1"},"items":[{"price":1}]}`)}},
		}},
		{Path: "pacts/n-m.json", Consumer: "n", Provider: "m", Messages: []*Message{
			{Metadata: map[string]any{"ce_type": "x.E"}, Contents: []byte(`{"reason":"r"}`)},
		}},
	}
	tests := []struct {
		name      string
		uses      []Use
		consumers []string
		reads     string
		want      bool
	}{
		{"operation", OperationUses(files, "m", "get", "/members/{id}"), []string{"r"}, "status", true},
		{"nested field", OperationUses(files, "m", "GET", "/members/{id}"), []string{"r"}, "rate/amount", true},
		{"array field", OperationUses(files, "m", "GET", "/members/{id}"), []string{"r"}, "items/price", true},
		{"unread field", OperationUses(files, "m", "GET", "/members/{id}"), []string{"r"}, "tier", false},
		{"other path", OperationUses(files, "m", "GET", "/members"), nil, "", false},
		{"other provider", OperationUses(files, "z", "GET", "/members/{id}"), nil, "", false},
		{"event", MessageUses(files, "m", "x.E"), []string{"n"}, "reason", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, u := range tc.uses {
				got = append(got, u.Consumer)
			}
			if !slices.Equal(got, tc.consumers) {
				t.Fatalf("consumers = %v, want %v", got, tc.consumers)
			}
			if len(tc.uses) > 0 && tc.uses[0].Reads(tc.reads) != tc.want {
				t.Errorf("Reads(%q) = %v, want %v (fields %v)", tc.reads, !tc.want, tc.want, tc.uses[0].Fields)
			}
		})
	}
}
