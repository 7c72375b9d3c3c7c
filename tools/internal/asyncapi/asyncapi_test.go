package asyncapi_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/avro"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/diag"
)

var update = flag.Bool("update", false, "rewrite the want.txt golden files")

// caseTimeout bounds one load: alias and $ref bombs must be refused fast,
// not expanded.
const caseTimeout = 10 * time.Second

// repoRoot is the workspace root of the repository's own contracts.
const repoRoot = "../../.."

// load runs asyncapi.Load, turning a panic into a test failure and failing
// the test when the load takes longer than caseTimeout.
func load(t *testing.T, ctx context.Context, root, file string) (*asyncapi.Document, error) {
	t.Helper()
	type result struct {
		doc      *asyncapi.Document
		err      error
		panicked string
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
			done <- r
		}()
		r.doc, r.err = asyncapi.Load(ctx, root, file)
	}()
	select {
	case r := <-done:
		if r.panicked != "" {
			t.Fatalf("panic: %s", r.panicked)
		}
		return r.doc, r.err
	case <-time.After(caseTimeout):
		t.Fatalf("%s: no answer within %v", file, caseTimeout)
		return nil, nil
	}
}

// golden compares got with dir/want.txt, or rewrites it under -update.
func golden(t *testing.T, dir, got string) {
	t.Helper()
	file := filepath.Join(dir, "want.txt")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}

// TestBadInputs loads the asyncapi.yaml of each workspace under
// testdata/bad and compares the error with the case's want.txt. It pins
// that every bad input is refused with one positioned *diag.Error (file,
// line and column, one line of text), never a panic or a hang.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	const base = "testdata/bad"
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 12 {
		t.Fatalf("only %d cases in %s", len(entries), base)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(base, e.Name())
			doc, err := load(t, t.Context(), dir, "asyncapi.yaml")
			if err == nil {
				t.Fatalf("no error; loaded %d operations", len(doc.Operations))
			}
			golden(t, dir, err.Error()+"\n")
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("error is a %T, not a *diag.Error: %v", err, err)
			}
			if de.File == "" || de.Line <= 0 || de.Column <= 0 {
				t.Errorf("error has no file:line:col (%q:%d:%d): %v", de.File, de.Line, de.Column, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

// TestContracts loads the repository's four AsyncAPI documents. It pins
// the shape the generator relies on: the reservation contract sends both
// events on its Kafka channel, and each consumer's receive operations
// resolve, across folders, to that same channel and the same Avro records.
func TestContracts(t *testing.T) {
	t.Parallel()
	res, err := load(t, t.Context(), repoRoot, "contracts/reservation/v1/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantRecords := []string{"hotel.reservation.v1.ReservationCreated", "hotel.reservation.v1.ReservationCancelled"}
	if got := len(res.Operations); got != 2 {
		t.Fatalf("reservation has %d operations, want 2", got)
	}
	prints := map[string]uint64{}
	for i, op := range res.Operations {
		if op.Action != asyncapi.Send {
			t.Errorf("%s: action %s, want send", op.Name, op.Action)
		}
		ch := op.Channel
		if ch.Address != "hotel.reservation.events.v1" || ch.Kafka == nil || ch.Kafka.Partitions != 6 || ch.Kafka.Replicas != 3 || ch.Kafka.Topic != ch.Address {
			t.Errorf("%s: channel %+v, kafka %+v", op.Name, ch, ch.Kafka)
		}
		if len(op.Messages) != 1 {
			t.Fatalf("%s: %d messages, want 1", op.Name, len(op.Messages))
		}
		m := op.Messages[0]
		if m.Payload.Avro == nil || m.Payload.Avro.Name != wantRecords[i] {
			t.Fatalf("%s: payload %+v, want Avro record %s", op.Name, m.Payload, wantRecords[i])
		}
		if m.Key == nil || !strings.Contains(string(m.Key.JSON), `"type":"string"`) {
			t.Errorf("%s: key schema %s, want a string", op.Name, m.Key.JSON)
		}
		var headers struct {
			Required   []string       `json:"required"`
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(m.Headers.JSON, &headers); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "traceparent"} {
			if !slices.Contains(headers.Required, h) || headers.Properties[h] == nil {
				t.Errorf("%s: header %s is not a required property: %s", op.Name, h, m.Headers.JSON)
			}
		}
		if m != ch.Message(m.Name) || m != res.Components.Messages[m.Name] {
			t.Errorf("%s: message %s is not one definition shared by the operation, the channel and the components", op.Name, m.Name)
		}
		prints[m.Payload.Avro.Name] = m.Payload.Avro.Fingerprint
	}
	for _, svc := range []string{"member", "room", "notification"} {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			doc, err := load(t, t.Context(), repoRoot, "contracts/"+svc+"/v1/asyncapi.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if doc.Info.Title == "" || doc.Info.Description == "" {
				t.Errorf("info %+v has no title or description", doc.Info)
			}
			var got []string
			for _, op := range doc.Operations {
				if op.Action != asyncapi.Receive {
					t.Errorf("%s: action %s, want receive", op.Name, op.Action)
				}
				if op.Channel.Address != "hotel.reservation.events.v1" || op.Channel.File != "contracts/reservation/v1/asyncapi.yaml" {
					t.Errorf("%s: channel %s in %s, want the reservation contract's", op.Name, op.Channel.Address, op.Channel.File)
				}
				for _, m := range op.Messages {
					r := m.Payload.Avro
					if r == nil || prints[r.Name] != r.Fingerprint {
						t.Fatalf("%s: message %s payload %+v is not the reservation contract's record", op.Name, m.Name, m.Payload)
					}
					got = append(got, r.Name)
				}
			}
			if !slices.Equal(got, wantRecords) {
				t.Errorf("receives %v, want %v", got, wantRecords)
			}
			if !slices.Contains(doc.Files, "contracts/reservation/v1/avro/Money.avsc") || !slices.Contains(doc.Files, "contracts/reservation/v1/asyncapi.yaml") {
				t.Errorf("Files %v misses what the document depends on", doc.Files)
			}
		})
	}
}

// TestAvroPayloadCodec pins that the Avro record of a loaded message is
// what a codec needs: its self-contained schema parses on its own, has the
// fingerprint Load reports (checked against the single-object encoding
// header) and round-trips a value, Money included.
func TestAvroPayloadCodec(t *testing.T) {
	t.Parallel()
	doc, err := load(t, t.Context(), repoRoot, "contracts/room/v1/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Operations[0].Messages[0].Payload.Avro
	s, err := avro.Parse(r.Schema)
	if err != nil {
		t.Fatalf("self-contained schema does not parse: %v", err)
	}
	soe, err := s.AppendSingleObject(nil, map[string]any{
		"reservationId": "9c8b7a6d-5e4f-4321-8fed-cba987654321",
		"memberId":      "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70",
		"roomId":        "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
		"checkIn":       int32(20270),
		"checkOut":      int32(20273),
		"guests":        int32(2),
		"totalPrice":    map[string]any{"amount": "360.00", "currency": "EUR"},
		"createdAt":     int64(1751328000000),
	})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	header, _, err := avro.SingleObjectFingerprint(soe)
	if err != nil {
		t.Fatal(err)
	}
	if fp := binary.LittleEndian.Uint64(header[:]); fp != r.Fingerprint {
		t.Errorf("single-object header fingerprint %x, Load reported %x", fp, r.Fingerprint)
	}
	var back map[string]any
	if _, err := r.Avro.DecodeSingleObject(soe, &back); err != nil {
		t.Fatalf("decode with the loaded schema: %v", err)
	}
	if back["guests"] != int32(2) {
		t.Errorf("round trip gave %v", back)
	}
}

// TestGoodSubset loads a workspace that uses the rest of the subset: x-
// extensions, JSON Schema payloads (default format and multi-format),
// components channels and schemas, an operation without messages, shared
// definitions across files. It pins that strict decoding accepts them.
func TestGoodSubset(t *testing.T) {
	t.Parallel()
	doc, err := load(t, t.Context(), "testdata/good", "asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(doc.Operations); got != 2 {
		t.Fatalf("%d operations, want 2", got)
	}
	recv := doc.Operations[1]
	if recv.Action != asyncapi.Receive || len(recv.Messages) != 2 || recv.Kafka == nil || recv.Kafka.GroupID == nil {
		t.Errorf("receive operation %+v: want both messages of the channel and a group id", recv)
	}
	ping := doc.Channels[0].Message("Ping")
	if ping == nil || ping.Payload.Format != asyncapi.DefaultSchemaFormat || string(ping.Payload.JSON) != `{"properties":{"at":{"format":"date-time","type":"string"}},"type":"object"}` {
		t.Errorf("Ping payload %+v", ping.Payload)
	}
	if ping.ContentType != "application/json" {
		t.Errorf("Ping content type %q, want the document's default", ping.ContentType)
	}
	pong := doc.Channels[0].Message("Pong")
	if pong == nil || pong.Payload.Format != "application/schema+json;version=draft-07" || pong.Name != "pong" || pong.File != "shared/messages.yaml" {
		t.Errorf("Pong %+v", pong)
	}
	if doc.Components.Channels["audit"] == nil || doc.Components.Channels["audit"].Address != "t.audit.v1" {
		t.Errorf("components channels %+v", doc.Components.Channels)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].Protocol != "kafka-secure" {
		t.Errorf("servers %+v", doc.Servers)
	}
}

// TestRemoteRefNoNetwork pins that a $ref to a URL is refused before any
// request: the URL points at a live server that counts its hits.
func TestRemoteRefNoNetwork(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "Created:\n  payload:\n    type: string\n")
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	doc := "asyncapi: 3.0.0\ninfo:\n  title: T\n  version: 1.0.0\ncomponents:\n  messages:\n    Created:\n      $ref: '" + srv.URL + "/m.yaml#/Created'\n"
	if err := os.WriteFile(filepath.Join(dir, "asyncapi.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := load(t, t.Context(), dir, "asyncapi.yaml")
	want := fmt.Sprintf(`asyncapi.yaml:8:13: $ref "%s/m.yaml#/Created" points to a remote document: refused`, srv.URL)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %s", err, want)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loader made %d requests", n)
	}
}

// TestSymlinkOutOfWorkspace pins that a relative $ref through a symbolic
// link leading out of the workspace is refused: reads go through os.Root.
func TestSymlinkOutOfWorkspace(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("Created:\n  payload:\n    type: string\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "link.yaml")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	doc := "asyncapi: 3.0.0\ninfo:\n  title: T\n  version: 1.0.0\ncomponents:\n  messages:\n    Created:\n      $ref: './link.yaml#/Created'\n"
	if err := os.WriteFile(filepath.Join(dir, "asyncapi.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := load(t, t.Context(), dir, "asyncapi.yaml")
	want := `asyncapi.yaml:8:13: $ref "./link.yaml#/Created": refused: link.yaml leads outside the workspace`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestLoadArguments pins the errors of Load's own arguments: a document
// outside the workspace or missing, and a canceled context, which stops
// the load with the context's error.
func TestLoadArguments(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		file string
		want string
		is   error
	}{
		{name: "outside", ctx: t.Context(), file: "../x.yaml", want: "../x.yaml: the document is outside the workspace: refused; give its path relative to the workspace root"},
		{name: "absolute", ctx: t.Context(), file: "/etc/x.yaml", want: "/etc/x.yaml: the document is outside the workspace: refused; give its path relative to the workspace root"},
		{name: "missing", ctx: t.Context(), file: "contracts/nope/v1/asyncapi.yaml", want: "contracts/nope/v1/asyncapi.yaml: file not found; create it or fix the path"},
		{name: "canceled", ctx: canceled, file: "contracts/member/v1/asyncapi.yaml", is: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tt.ctx, repoRoot, tt.file)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Errorf("error %v, want %v", err, tt.is)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}
