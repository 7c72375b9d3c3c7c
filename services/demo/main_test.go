package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once,
// which calls onWrite after each write.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	onWrite func(string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	s := b.buf.String()
	b.mu.Unlock()
	if b.onWrite != nil {
		b.onWrite(s)
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var addrRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// assertNothingLeft fails t when dir holds anything or an address out
// printed still accepts connections.
func assertNothingLeft(t *testing.T, dir, out string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("the demo left %v in %s", entries, dir)
	}
	addrs := addrRE.FindAllString(out, -1)
	if len(addrs) == 0 {
		t.Fatalf("no address in the output:\n%s", out)
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			_ = c.Close()
			t.Errorf("%s still accepts connections after the demo", a)
		}
	}
}

// TestDemo pins `make demo`: the whole scenario runs on this machine, every
// claim it checks holds (exit 0), the narration shows each step and the
// trace timeline, and nothing is left behind — no data folder, no
// listener.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errs syncBuffer
	if code := run(t.Context(), nil, &out, &errs); code != 0 {
		t.Fatalf("run = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out.String(), errs.String())
	}
	got := out.String()
	for _, want := range []string{
		"201 Created",
		"422 Unprocessable Entity",
		"409 Conflict",
		"Keiyaku-Fallback: last-good",
		"503 Service Unavailable: member service is unavailable",
		"closed → open → half-open → closed",
		"Idempotent-Replayed: true",
		"outbox pending: 5",
		"all 5 events delivered once",
		"one trace id from the demo's request to every consumer",
		"every claim above was checked",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the narration lacks %q:\n%s", want, got)
		}
	}
	for _, svc := range []string{"member", "room", "notification", "reservation"} {
		if !regexp.MustCompile(`(?m)^\s+[\d.]+ ms\s+[\d.]+ ms\s+` + svc + `\s`).MatchString(got) {
			t.Errorf("the trace timeline has no span of %s:\n%s", svc, got)
		}
	}
	assertNothingLeft(t, tmp, got)
}

// TestDemoInterrupted pins Ctrl-C: a cancelled context in the middle of
// the scenario stops everything, removes the data folder, leaves no
// listener and exits 130.
func TestDemoInterrupted(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := syncBuffer{onWrite: func(s string) {
		if strings.Contains(s, "▸ 5.") { // while the room service is down
			cancel()
		}
	}}
	var errs syncBuffer
	if code := run(ctx, nil, &out, &errs); code != 130 {
		t.Fatalf("run = %d, want 130\nstdout:\n%s\nstderr:\n%s", code, out.String(), errs.String())
	}
	if !strings.Contains(errs.String(), "interrupted") {
		t.Errorf("stderr = %q, want it to say the demo was interrupted", errs.String())
	}
	assertNothingLeft(t, tmp, out.String())
}

// TestBadFlags pins the usage errors: exit 2, nothing started.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-nope"}, {"extra"}} {
		var out, errs bytes.Buffer
		if code := run(t.Context(), args, &out, &errs); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) wrote %q, want nothing", args, out.String())
		}
	}
}
