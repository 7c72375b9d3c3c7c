package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func hdrs(kv ...string) []kgo.RecordHeader {
	var hs []kgo.RecordHeader
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

// valid is the header set of a well-formed event.
var valid = []string{
	HeaderSpecVersion, "1.0", HeaderID, "id-1", HeaderType, "a.b.C", HeaderSource, "/s",
	HeaderTime, "2026-01-02T03:04:05.678Z", HeaderContentType, "application/avro", HeaderDataSchema, "urn:x",
}

// TestParseEnvelope pins which records are events: the four required
// CloudEvents attributes, spec version 1.0, an RFC 3339 time and an Avro
// content type; a repeated attribute is ambiguous and rejected; optional
// attributes may be absent. Every rejection wraps ErrNotEvent, so the
// consumer dead-letters such records at once.
func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	without := func(key string) []string {
		var out []string
		for i := 0; i < len(valid); i += 2 {
			if valid[i] != key {
				out = append(out, valid[i], valid[i+1])
			}
		}
		return out
	}
	with := func(kv ...string) []string { return append(append([]string(nil), valid...), kv...) }
	replace := func(key, val string) []string { return append(without(key), key, val) }
	tests := []struct {
		name string
		kv   []string
		want string // "" for a valid event
	}{
		{"valid", valid, ""},
		{"no time, schema or content type", without(HeaderTime)[:8], ""},
		{"content type with parameters", replace(HeaderContentType, "Application/Avro; v=1"), ""},
		{"no spec version", without(HeaderSpecVersion), "no ce_specversion"},
		{"spec version 0.3", replace(HeaderSpecVersion, "0.3"), `ce_specversion "0.3"`},
		{"no id", without(HeaderID), "no ce_id"},
		{"empty id", replace(HeaderID, ""), "no ce_id"},
		{"no type", without(HeaderType), "no ce_type"},
		{"no source", without(HeaderSource), "no ce_source"},
		{"xml", replace(HeaderContentType, "application/xml"), "content-type"},
		{"bad time", replace(HeaderTime, "yesterday"), "not RFC 3339"},
		{"two ids", with(HeaderID, "id-2"), "ce_id repeated"},
		{"two types", with(HeaderType, "x.Y"), "ce_type repeated"},
		{"huge spec version", replace(HeaderSpecVersion, strings.Repeat("9", 1<<20)), "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := parseEnvelope(&kgo.Record{Topic: "t", Partition: 2, Offset: 9, Key: []byte("k"), Headers: hdrs(tt.kv...)}, &interner{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("parseEnvelope: %v", err)
				}
				if env.ID != "id-1" || env.Type != "a.b.C" || env.Source != "/s" || env.Topic != "t" ||
					env.Partition != 2 || env.Offset != 9 || string(env.Key) != "k" {
					t.Fatalf("envelope %+v", env)
				}
				return
			}
			if !errors.Is(err, ErrNotEvent) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseEnvelope error = %v, want ErrNotEvent containing %q", err, tt.want)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes echoes hostile input", len(err.Error()))
			}
		})
	}
	env, err := parseEnvelope(&kgo.Record{Headers: hdrs(valid...)}, nil)
	if err != nil || !env.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)) {
		t.Fatalf("time = %v, %v", env.Time, err)
	}
}

// TestParseMillis pins the fast path for ce_time against time.Parse: the
// producer's layout is read by it, to the same instant in UTC, and what it
// reads, time.Parse reads the same; anything else (another precision, an
// offset, a date that does not exist) is left to time.Parse.
func TestParseMillis(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		fast bool
	}{
		{"2026-01-02T03:04:05.678Z", true},
		{"2024-02-29T23:59:59.999Z", true},
		{"0001-01-01T00:00:00.000Z", true},
		{"2023-02-29T00:00:00.000Z", false}, // not a leap year
		{"2026-04-31T00:00:00.000Z", false},
		{"2026-00-10T00:00:00.000Z", false},
		{"2026-13-10T00:00:00.000Z", false},
		{"2026-01-00T00:00:00.000Z", false},
		{"2026-01-02T24:00:00.000Z", false},
		{"2026-01-02T03:60:00.000Z", false},
		{"2026-01-02T03:04:60.000Z", false},
		{"2026-01-02t03:04:05.678Z", false},
		{"2026-01-02T03:04:05.678z", false},
		{"2026-01-02T03:04:05.67Z", false},
		{"2026-01-02T03:04:05.6789Z", false},
		{"2026-01-02T03:04:05+01:00", false},
		{"2026-01-02T03:04:05.678+01", false},
		{"2026-01-02T03:04:0x.678Z", false},
		{"", false},
	} {
		got, ok := parseMillis([]byte(tt.in))
		if ok != tt.fast {
			t.Errorf("parseMillis(%q) ok = %v, want %v", tt.in, ok, tt.fast)
		}
		if !ok {
			continue
		}
		want, err := time.Parse(time.RFC3339Nano, tt.in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseMillis(%q) = %v; time.Parse = %v, %v", tt.in, got, want, err)
		}
	}
	for i := range 1000 {
		at := time.Unix(int64(i)*7919_0000+int64(i%7)*86400*365, int64(i)*1_000_003).UTC()
		b := at.AppendFormat(nil, timeLayout)
		got, ok := parseMillis(b)
		if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
			t.Fatalf("parseMillis(%s) = %v, %v; want %v", b, got, ok, at.Truncate(time.Millisecond))
		}
	}
}

// TestInternerAcrossRecords pins a partition worker's interner over a
// run of records whose attributes change: each record reads its own
// values whatever the last one held, and the strings kept stay bounded
// (maxInterned) however many distinct values a producer sends.
func TestInternerAcrossRecords(t *testing.T) {
	t.Parallel()
	var in interner
	typs := []string{"a.b.C", "a.b.D", "a.b.C", "", strings.Repeat("x", 300), "a.b.C"}
	for i := range 200 {
		typs = append(typs, fmt.Sprintf("t.T%d", i))
	}
	for i, typ := range typs {
		kv := []string{HeaderSpecVersion, "1.0", HeaderID, fmt.Sprint("id-", i), HeaderType, typ, HeaderSource, fmt.Sprint("/s", i%3)}
		env, err := parseEnvelope(&kgo.Record{Headers: hdrs(kv...)}, &in)
		if typ == "" {
			if err == nil {
				t.Errorf("record %d: empty type accepted", i)
			}
			continue
		}
		if err != nil || env.Type != typ || env.Source != fmt.Sprint("/s", i%3) || env.ID != fmt.Sprint("id-", i) {
			t.Errorf("record %d: type %q source %q id %q (%v), want %q /s%d id-%d", i, env.Type, env.Source, env.ID, err, typ, i%3, i)
		}
	}
	if len(in.m) > maxInterned {
		t.Errorf("interner holds %d strings, want at most %d", len(in.m), maxInterned)
	}
}

// TestHeaderCarrier pins trace-context propagation over record headers:
// inject then extract keeps the trace; a repeated traceparent is invalid
// per W3C and reads as absent (a new trace starts) instead of picking one;
// repeated tracestate headers are joined; Set replaces instead of adding a
// second header.
func TestHeaderCarrier(t *testing.T) {
	t.Parallel()
	prop := propagation.TraceContext{}
	const tp1 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	const tp2 = "00-11111111111111111111111111111111-2222222222222222-01"
	extract := func(hs []kgo.RecordHeader) trace.SpanContext {
		return trace.SpanContextFromContext(prop.Extract(context.Background(), headerCarrier{&kgo.Record{Headers: hs}}))
	}

	if sc := extract(hdrs("traceparent", tp1)); sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || !sc.IsRemote() {
		t.Errorf("one traceparent: extracted %v", sc)
	}
	if sc := extract(hdrs("traceparent", tp1, "traceparent", tp2)); sc.IsValid() {
		t.Errorf("two traceparents: extracted %v, want none", sc)
	}
	if sc := extract(hdrs("traceparent", tp1, "traceparent", tp1)); sc.IsValid() {
		t.Errorf("a traceparent given twice: extracted %v, want none", sc)
	}
	c := headerCarrier{&kgo.Record{Headers: hdrs("tracestate", "a=1", "x", "y", "tracestate", "b=2")}}
	if got := c.Get("tracestate"); got != "a=1,b=2" {
		t.Errorf("tracestate = %q, want a=1,b=2", got)
	}
	if got := c.Keys(); strings.Join(got, " ") != "tracestate x" {
		t.Errorf("Keys = %v", got)
	}
	c.Set("tracestate", "c=3")
	if got := c.Get("tracestate"); got != "c=3" || len(c.rec.Headers) != 2 {
		t.Errorf("after Set: tracestate %q, headers %v", got, c.rec.Headers)
	}

	// Inject into a record that already has a stale traceparent.
	rec := &kgo.Record{Headers: hdrs("traceparent", tp2)}
	sc := trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp1}))
	prop.Inject(trace.ContextWithRemoteSpanContext(context.Background(), sc), headerCarrier{rec})
	if got := extract(rec.Headers); got.TraceID() != sc.TraceID() {
		t.Errorf("after inject over a stale header: trace %v, want %v", got.TraceID(), sc.TraceID())
	}
}
