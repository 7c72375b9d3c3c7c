package asyncapi_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
)

// realWorldDocs lists the third-party documents of testdata/real-world
// (the AsyncAPI 3.0 and 3.1 examples of asyncapi/spec): every *.yml, and
// the asyncapi.yaml of each social-media service.
func realWorldDocs(t *testing.T) []string {
	t.Helper()
	var docs []string
	err := filepath.WalkDir("testdata/real-world", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yml") || d.Name() == "asyncapi.yaml") {
			docs = append(docs, filepath.ToSlash(strings.TrimPrefix(p, "testdata/real-world/")))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 19+19+5 {
		t.Fatalf("only %d documents in testdata/real-world", len(docs))
	}
	return docs
}

// TestRealWorldExamples pins that every official AsyncAPI 3.0 and 3.1
// example loads (none did once: security, correlationId, reply, traits and
// parameters were unknown fields and 3.1.0 was refused), that a channel
// Keiyaku cannot generate for says why, and that traits are applied.
func TestRealWorldExamples(t *testing.T) {
	t.Parallel()
	for _, file := range realWorldDocs(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			doc, err := load(t, t.Context(), "testdata/real-world", file)
			if strings.Contains(file, "adeo-") {
				// The ADEO case study $refs its Avro schemas by URL: a
				// remote $ref stays refused, with what to do instead.
				if err == nil || !strings.Contains(err.Error(), "remote document: refused") || !strings.Contains(err.Error(), "copy the definitions into a file inside the workspace") {
					t.Fatalf("remote $ref: err = %v, want a refusal saying to vendor the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range doc.Channels {
				kafka := false
				for _, s := range doc.Servers {
					kafka = kafka || s.Kafka()
				}
				if c.Skip == "" && !kafka && len(doc.Servers) > 0 {
					t.Errorf("channel %s of a document without a Kafka server is not skipped", c.Name)
				}
				if c.Skip == "" && strings.Contains(c.Address, "{") {
					t.Errorf("channel %s with parameters %q is not skipped", c.Name, c.Address)
				}
			}
		})
	}
}

// TestTraitsApplied pins that message and operation traits are merged
// under the object: streetlights' messages get the headers of their trait
// and its operations the Kafka binding of theirs.
func TestTraitsApplied(t *testing.T) {
	t.Parallel()
	doc, err := load(t, t.Context(), "testdata/real-world", "asyncapi-3.0/streetlights-kafka-asyncapi.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range doc.Operations {
		if op.Kafka == nil || op.Kafka.ClientID == nil || !strings.Contains(string(op.Kafka.ClientID.JSON), "my-app-id") {
			t.Errorf("operation %s: Kafka binding of its trait not applied: %+v", op.Name, op.Kafka)
		}
		for _, m := range op.Messages {
			if m.Headers == nil || !strings.Contains(string(m.Headers.JSON), "my-app-header") {
				t.Errorf("message %s: headers of its trait not applied", m.Name)
			}
		}
		// The message's own title wins over the trait's.
	}
	if len(doc.Servers) == 0 || len(doc.Servers[0].Security) == 0 {
		t.Errorf("server security not decoded: %+v", doc.Servers)
	}
	if c := doc.Channel("lightingMeasured"); c == nil || len(c.Parameters) != 1 || c.Parameters[0].Name != "streetlightId" || c.Skip == "" {
		t.Errorf("lightingMeasured: want one parameter and a skip reason, got %+v", c)
	}
}

// TestAccepted loads documents that were once refused and are valid
// AsyncAPI: a message without a Kafka key or payload, a channel without
// an address or on an HTTP server, an inline Avro schema, a top-level Avro
// enum, an operation with an empty messages list, traits in another file.
func TestAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		check func(*asyncapi.Document) string
	}{
		{"avro-inline", func(d *asyncapi.Document) string {
			if p := d.Operations[0].Messages[0].Payload; p.Avro == nil || p.Avro.Name == "" {
				return "inline Avro record not loaded"
			}
			return ""
		}},
		{"avro-top-not-record", func(d *asyncapi.Document) string {
			if p := d.Operations[0].Messages[0].Payload; p.Avro != nil || p.AvroType == nil || !strings.HasPrefix(p.AvroCanonical, `{"name":`) {
				return "top-level Avro type not loaded"
			}
			return ""
		}},
		{"kafka-key-missing", func(d *asyncapi.Document) string {
			if d.Operations[0].Messages[0].Key != nil {
				return "a key where the document has none"
			}
			return ""
		}},
		{"missing-address", func(d *asyncapi.Document) string {
			if d.Channels[0].Skip == "" {
				return "a channel without address is not skipped"
			}
			return ""
		}},
		{"server-protocol-http", func(d *asyncapi.Document) string {
			if !strings.Contains(d.Channels[0].Skip, "not on a Kafka server (protocols: http)") {
				return "skip reason " + d.Channels[0].Skip
			}
			return ""
		}},
		{"payload-missing", func(d *asyncapi.Document) string {
			if d.Operations[0].Messages[0].Payload != nil {
				return "a payload where the document has none"
			}
			return ""
		}},
		{"traits-precedence", func(d *asyncapi.Document) string {
			op := d.Operations[0]
			m := op.Messages[0]
			switch {
			case op.Summary != "own summary" || op.Title != "first trait title" || op.Description != "second trait description":
				return fmt.Sprintf("operation traits: summary %q, title %q, description %q", op.Summary, op.Title, op.Description)
			case m.Title != "own title" || m.ContentType != "application/avro":
				return fmt.Sprintf("message traits: title %q, content type %q", m.Title, m.ContentType)
			case !strings.Contains(string(m.Headers.JSON), "own") || !strings.Contains(string(m.Headers.JSON), "fromTrait"):
				return "headers not merged: " + string(m.Headers.JSON)
			}
			return ""
		}},
		{"trait-other-file", func(d *asyncapi.Document) string {
			op, m := d.Operations[0], d.Operations[0].Messages[0]
			if op.Summary != "summary from the shared trait" || m.Title != "title from the shared trait" || m.ContentType != "application/json" {
				return fmt.Sprintf("traits from another file not applied: summary %q, title %q, content type %q", op.Summary, m.Title, m.ContentType)
			}
			return ""
		}},
		{"component-operation", func(d *asyncapi.Document) string {
			if c := d.Components.Operations["sendCreated"]; c == nil || c.Channel != d.Channels[0] {
				return "a component operation on a component channel is not that channel"
			}
			return ""
		}},
		{"operation-messages-empty", func(d *asyncapi.Document) string {
			if len(d.Operations[0].Messages) != 0 {
				return "messages where the operation lists none"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := load(t, t.Context(), "testdata/accepted/"+tc.name, "asyncapi.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(doc); msg != "" {
				t.Error(msg)
			}
		})
	}
}
