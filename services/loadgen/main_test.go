package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEmbeddedRun pins the load generator end to end: a short run against
// the embedded stack answers every request 201 (each booking has its own
// room and night, so none is refused as taken), and the report carries
// the throughput, the latency percentiles, the outbox lag and the
// consumer lag, drained after the load.
//
// With KEIYAKU_TEST_POSTGRES_DSN set, the same run goes against
// PostgreSQL (-postgres), whose schemas are dropped at the end.
func TestEmbeddedRun(t *testing.T) {
	t.Parallel()
	runs := map[string][]string{"sqlite": {"-sqlite-sync", "full"}}
	if dsn := os.Getenv("KEIYAKU_TEST_POSTGRES_DSN"); dsn != "" {
		runs["postgres"] = []string{"-postgres", dsn}
	}
	for name, extra := range runs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testEmbeddedRun(t, extra)
		})
	}
}

func testEmbeddedRun(t *testing.T, extra []string) {
	var out, errs bytes.Buffer
	code := run(t.Context(), append([]string{"-embedded", "-duration", "1s", "-concurrency", "4"}, extra...), &out, &errs)
	if code != 0 {
		t.Fatalf("run = %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errs.String())
	}
	got := out.String()
	m := regexp.MustCompile(`requests\s+(\d+) answered in [\d.]+ s \(201: (\d+)\)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no request line with only 201s in:\n%s", got)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 || m[1] != m[2] {
		t.Errorf("requests %s, of which 201: %s; want all of at least one", m[1], m[2])
	}
	for _, want := range []string{"throughput ", "latency       p50 ", "outbox lag    p50 ≤ ", "consumer lag  p50 ", "drained ", "; 0 lost, 0 handled twice"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestBadFlags pins the usage errors: exit 2 with a message naming the
// flag, nothing started.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "give -embedded or -target"},
		{[]string{"-embedded", "-target", "http://x:1"}, "exclude each other"},
		{[]string{"-target", "ftp://x"}, "-target"},
		{[]string{"-embedded", "-duration", "0s"}, "-duration"},
		{[]string{"-embedded", "-concurrency", "0"}, "-concurrency"},
		{[]string{"-embedded", "-sqlite-sync", "OFF"}, "-sqlite-sync"},
		{[]string{"-embedded", "-start", "tomorrow"}, "-start"},
		{[]string{"-embedded", "-brokers", "x:1"}, "-brokers"},
		{[]string{"-embedded", "-postgres", "data.db"}, "-postgres"},
		{[]string{"-embedded", "-trace-ratio", "2"}, "-trace-ratio"},
		{[]string{"-target", "http://x:1", "-postgres", "postgres://x/y"}, "-postgres"},
		{[]string{"-embedded", "extra"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		var out, errs bytes.Buffer
		if code := run(t.Context(), tc.args, &out, &errs); code != 2 {
			t.Errorf("run(%q) = %d, want 2", tc.args, code)
		}
		if !strings.Contains(errs.String(), tc.want) {
			t.Errorf("run(%q) said %q, want it to mention %q", tc.args, errs.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed a report", tc.args)
		}
	}
}
