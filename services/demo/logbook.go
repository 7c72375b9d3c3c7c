package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// maxEntries bounds the records a logbook keeps.
const maxEntries = 20_000

// logbook keeps the log records of the services, so that the narration
// can point at what a service said (a fallback used, a breaker opened),
// and passes them on to echo when it is set (-v).
type logbook struct {
	echo slog.Handler // nil: keep only

	mu      sync.Mutex
	entries []entry
}

// entry is one kept log record.
type entry struct {
	time    time.Time
	level   slog.Level
	service string
	msg     string
	attrs   map[string]string
}

// handler returns the slog.Handler that writes into b.
func (b *logbook) handler() slog.Handler { return &bookHandler{book: b} }

// mark returns a position: entries logged from now on come after it.
func (b *logbook) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}

// since returns the entries logged after mark by service (any service when
// empty) with message msg.
func (b *logbook) since(mark int, service, msg string) []entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []entry
	for _, e := range b.entries[min(mark, len(b.entries)):] {
		if (service == "" || e.service == service) && e.msg == msg {
			out = append(out, e)
		}
	}
	return out
}

func (b *logbook) add(e entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries) < maxEntries {
		b.entries = append(b.entries, e)
	}
}

// bookHandler is a slog.Handler into a logbook; it remembers the
// attributes given to WithAttrs (the stack adds "service").
type bookHandler struct {
	book   *logbook
	echo   slog.Handler
	attrs  []slog.Attr
	prefix string // group prefix of later attributes
}

func (h *bookHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || (h.book.echo != nil && h.book.echo.Enabled(ctx, l))
}

func (h *bookHandler) Handle(ctx context.Context, r slog.Record) error {
	e := entry{time: r.Time, level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs { // keys carry their group prefix already
		e.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		e.attrs[h.prefix+a.Key] = a.Value.String()
		return true
	})
	e.service = e.attrs["service"]
	if r.Level >= slog.LevelInfo {
		h.book.add(e)
	}
	if h.book.echo != nil && h.book.echo.Enabled(ctx, r.Level) {
		echo := h.echo
		if echo == nil {
			echo = h.book.echo
		}
		return echo.Handle(ctx, r)
	}
	return nil
}

func (h *bookHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	for _, a := range attrs {
		n.attrs = append(slices.Clone(n.attrs), slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
	}
	if h.book.echo != nil {
		base := h.echo
		if base == nil {
			base = h.book.echo
		}
		n.echo = base.WithAttrs(attrs)
	}
	return &n
}

func (h *bookHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	if h.book.echo != nil {
		base := h.echo
		if base == nil {
			base = h.book.echo
		}
		n.echo = base.WithGroup(name)
	}
	return &n
}
