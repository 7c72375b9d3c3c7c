package httpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
)

// TestPanicRecovery pins that a panicking operation is answered with a
// generic 500 problem — no panic value, no stack — while the log gets
// both.
func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{})
	res := do(t, http.MethodGet, f.url+"/rooms/"+panicRoom, nil, nil)
	if res.status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500; body %s", res.status, res.body)
	}
	p := res.problem(t)
	for _, leak := range []string{"boom", secret, "goroutine", ".go:", "panic"} {
		if strings.Contains(string(res.body), leak) {
			t.Errorf("body leaks %q: %s", leak, res.body)
		}
	}
	if p.Detail == "" {
		t.Error("problem without detail")
	}
	logs := f.logs.String()
	for _, want := range []string{"panic serving request", "boom", "goroutine", "roomService"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// The server still serves.
	if res := do(t, http.MethodGet, f.url+"/rooms/"+knownRoom, nil, nil); res.status != 200 {
		t.Errorf("after the panic: status %d, want 200", res.status)
	}
}

// TestPanicAfterWriteAborts pins that a panic after the response started
// cuts the connection instead of ending the response normally, so the
// client cannot mistake half a body for a whole one.
func TestPanicAfterWriteAborts(t *testing.T) {
	t.Parallel()
	srv, err := httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic("late")
	}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	res, err := http.Get(ts.URL)
	if err != nil {
		return // aborted before the client saw a response: fine too
	}
	defer res.Body.Close()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Error("the client read a complete body from a handler that panicked")
	}
}

// TestHealthz pins that liveness answers 200 JSON to GET and HEAD whatever
// the readiness, and 405 with Allow to other methods.
func TestHealthz(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{opts: []httpserver.Option{
		httpserver.WithReadinessCheck("down", func(context.Context) error { return errors.New("down") }),
	}})
	res := do(t, http.MethodGet, f.url+httpserver.LivenessPath, nil, nil)
	if res.status != 200 || res.header.Get("Content-Type") != "application/json" || !json.Valid(res.body) {
		t.Errorf("GET: %d %q %s, want 200 JSON", res.status, res.header.Get("Content-Type"), res.body)
	}
	if res := do(t, http.MethodHead, f.url+httpserver.LivenessPath, nil, nil); res.status != 200 {
		t.Errorf("HEAD: %d, want 200", res.status)
	}
	res = do(t, http.MethodPost, f.url+httpserver.LivenessPath, nil, nil)
	if res.status != 405 || res.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q, want 405 GET, HEAD", res.status, res.header.Get("Allow"))
	}
	res.problem(t)
}

// TestReadyzTransitions pins that /readyz follows its checks: 200 when all
// pass, 503 naming the failed check (and not its error), 503 when a check
// outlives the readiness timeout, 200 again after recovery.
func TestReadyzTransitions(t *testing.T) {
	t.Parallel()
	var dbErr atomic.Pointer[error]
	var hang atomic.Bool
	f := newFixture(t, fixtureConfig{opts: []httpserver.Option{
		httpserver.WithReadinessTimeout(20 * time.Millisecond),
		httpserver.WithReadinessCheck("db", func(context.Context) error {
			if p := dbErr.Load(); p != nil {
				return *p
			}
			return nil
		}),
		httpserver.WithReadinessCheck("broker", func(ctx context.Context) error {
			if hang.Load() {
				<-ctx.Done() // never answers in time
				return nil
			}
			return nil
		}),
	}})
	readyz := func() response { return do(t, http.MethodGet, f.url+httpserver.ReadinessPath, nil, nil) }

	if res := readyz(); res.status != 200 {
		t.Fatalf("all checks pass: status %d, body %s", res.status, res.body)
	}
	boom := error(errors.New("dial 10.0.0.7:5432: connection refused"))
	dbErr.Store(&boom)
	res := readyz()
	if res.status != 503 {
		t.Fatalf("db failing: status %d, want 503", res.status)
	}
	if p := res.problem(t); !strings.Contains(p.Detail, "db") || strings.Contains(p.Detail, "broker") || strings.Contains(string(res.body), "10.0.0.7") {
		t.Errorf("db failing: detail %q; want the db check named, broker not, no error text", p.Detail)
	}
	if !strings.Contains(f.logs.String(), "10.0.0.7") {
		t.Error("the check error is not logged")
	}
	dbErr.Store(nil)
	hang.Store(true)
	if res := readyz(); res.status != 503 || !strings.Contains(res.problem(t).Detail, "broker") {
		t.Errorf("broker too slow: status %d body %s, want 503 naming broker", res.status, res.body)
	}
	hang.Store(false)
	if res := readyz(); res.status != 200 {
		t.Errorf("recovered: status %d, want 200", res.status)
	}
}

// serve runs s on a loopback listener until the returned cancel is
// called; the error of Run arrives on the channel.
func serve(t *testing.T, s *httpserver.Server) (url string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, ln) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, errc
}

// waitClosed waits until nothing accepts connections on url's address.
func waitClosed(t *testing.T, url string) {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		select {
		case <-t.Context().Done():
			t.Fatal("listener never closed")
		case <-time.After(time.Millisecond):
		}
	}
}

// TestGracefulShutdown pins that cancelling Run's context stops accepting
// connections, turns /readyz to 503, lets the in-flight request finish
// with its whole response, and only then returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	s, err := httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	if err != nil {
		t.Fatal(err)
	}
	url, cancel, done := serve(t, s)
	if res := do(t, http.MethodGet, url+httpserver.ReadinessPath, nil, nil); res.status != 200 {
		t.Fatalf("readyz before shutdown: %d", res.status)
	}
	slow := make(chan response, 1)
	go func() {
		res, err := send(t.Context(), http.MethodGet, url+"/slow", nil, nil)
		if err != nil {
			res.body = []byte(err.Error())
		}
		slow <- res
	}()
	<-entered

	cancel()
	waitClosed(t, url)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, httpserver.ReadinessPath, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz during shutdown: %d, want 503", rec.Code)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a request in flight", err)
	default:
	}

	close(release)
	if res := <-slow; res.status != 200 || string(res.body) != "finished" {
		t.Errorf("in-flight request: %d %q, want 200 finished", res.status, res.body)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestShutdownTimeout pins that a request outliving the shutdown timeout
// is cut off and Run reports context.DeadlineExceeded instead of hanging.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s, err := httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
	}), httpserver.WithShutdownTimeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	url, cancel, done := serve(t, s)
	clientErr := make(chan error, 1)
	go func() {
		res, err := http.Get(url + "/stuck")
		if err == nil {
			res.Body.Close()
		}
		clientErr <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want context.DeadlineExceeded", err)
	}
	if err := <-clientErr; err == nil {
		t.Error("the stuck request got a response after its connection was closed")
	}
}

// TestRunTwice pins that a Server runs once: a second Run fails and
// closes its listener.
func TestRunTwice(t *testing.T) {
	t.Parallel()
	s, err := httpserver.New(http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	url, _, _ := serve(t, s)
	if res := do(t, http.MethodGet, url+httpserver.LivenessPath, nil, nil); res.status != 200 {
		t.Fatalf("first Run does not serve: %d", res.status)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context(), ln); err == nil {
		t.Error("second Run: no error")
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("second Run left its listener open")
	}
}

// TestListenAndServe pins that ListenAndServe reports a bad address and
// serves on a good one until its context ends.
func TestListenAndServe(t *testing.T) {
	t.Parallel()
	s, err := httpserver.New(http.NotFoundHandler(), httpserver.WithAddr("256.0.0.1:bad"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ListenAndServe(t.Context()); err == nil {
		t.Error("bad address: no error")
	}
	s, err = httpserver.New(http.NotFoundHandler(), httpserver.WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.ListenAndServe(ctx); err != nil {
		t.Errorf("ListenAndServe with a done context = %v, want nil", err)
	}
}

// TestReadHeaderTimeout pins that a client sending its headers too slowly
// (slowloris) is disconnected by the server.
func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	s, err := httpserver.New(http.NotFoundHandler(), httpserver.WithReadHeaderTimeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	url, _, _ := serve(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// The server gives up on the headers and closes the connection; the
	// read returns at most a 408 and then EOF, never hangs.
	r := bufio.NewReader(conn)
	data, _ := io.ReadAll(r)
	if len(data) > 0 && !strings.HasPrefix(string(data), "HTTP/1.1 408") {
		t.Errorf("server answered %q", data)
	}
}

// TestBodyLimitOption pins that WithMaxBodyBytes sets the 413 threshold.
func TestBodyLimitOption(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	s, err := httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		got.Store(n)
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		}
	}), httpserver.WithMaxBodyBytes(10))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	if res := do(t, http.MethodPost, ts.URL, nil, strings.NewReader("0123456789")); res.status != 200 || got.Load() != 10 {
		t.Errorf("10 bytes: status %d, read %d; want 200 and 10", res.status, got.Load())
	}
	res := do(t, http.MethodPost, ts.URL, nil, strings.NewReader("0123456789A"))
	if res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("11 bytes: status %d, want 413", res.status)
	}
	res.problem(t)
	if res := do(t, http.MethodPost, ts.URL, nil, chunked{strings.NewReader("0123456789A")}); res.status != 413 || got.Load() > 10 {
		t.Errorf("11 chunked bytes: status %d, read %d; want 413 and at most 10", res.status, got.Load())
	}
}

// TestNewErrors pins that New refuses a nil handler and out-of-range
// options instead of serving with surprising settings.
func TestNewErrors(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name    string
		handler http.Handler
		opts    []httpserver.Option
	}{
		{"nil handler", nil, nil},
		{"zero read header timeout", http.NotFoundHandler(), []httpserver.Option{httpserver.WithReadHeaderTimeout(0)}},
		{"negative read timeout", http.NotFoundHandler(), []httpserver.Option{httpserver.WithReadTimeout(-1)}},
		{"negative write timeout", http.NotFoundHandler(), []httpserver.Option{httpserver.WithWriteTimeout(-1)}},
		{"negative idle timeout", http.NotFoundHandler(), []httpserver.Option{httpserver.WithIdleTimeout(-1)}},
		{"zero max header bytes", http.NotFoundHandler(), []httpserver.Option{httpserver.WithMaxHeaderBytes(0)}},
		{"zero max body bytes", http.NotFoundHandler(), []httpserver.Option{httpserver.WithMaxBodyBytes(0)}},
		{"zero shutdown timeout", http.NotFoundHandler(), []httpserver.Option{httpserver.WithShutdownTimeout(0)}},
		{"zero readiness timeout", http.NotFoundHandler(), []httpserver.Option{httpserver.WithReadinessTimeout(0)}},
		{"unnamed check", http.NotFoundHandler(), []httpserver.Option{httpserver.WithReadinessCheck("", ok)}},
		{"nil check", http.NotFoundHandler(), []httpserver.Option{httpserver.WithReadinessCheck("db", nil)}},
		{"duplicate check", http.NotFoundHandler(), []httpserver.Option{httpserver.WithReadinessCheck("db", ok), httpserver.WithReadinessCheck("db", ok)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if s, err := httpserver.New(tc.handler, tc.opts...); err == nil || s != nil {
				t.Errorf("New: server %v, err %v; want an error", s != nil, err)
			}
		})
	}
	if _, err := httpserver.New(http.NotFoundHandler(), httpserver.WithLogger(slog.Default()), httpserver.WithReadTimeout(0)); err != nil {
		t.Errorf("zero read timeout (no bound) refused: %v", err)
	}
}
