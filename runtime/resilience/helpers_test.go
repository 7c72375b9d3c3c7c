package resilience

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A step answers one request of a script.
type step func(w http.ResponseWriter, r *http.Request)

// script is the fault-injection handler: request i (from 0) is answered by
// steps[i], later ones by then. It counts the requests it saw.
type script struct {
	hits  atomic.Int64
	steps []step
	then  step
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := s.hits.Add(1) - 1
	if i < int64(len(s.steps)) {
		s.steps[i](w, r)
		return
	}
	s.then(w, r)
}

func (s *script) count() int { return int(s.hits.Load()) }

// status answers code, with header name/value pairs, and the body "status <code>".
func status(code int, header ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, "status "+strconv.Itoa(code))
	}
}

// ok answers 200 with body.
func ok(body string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}
}

// slow answers 200 "slow" after d, or gives up when the client goes away.
func slow(d time.Duration) step {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			io.WriteString(w, "slow")
		case <-r.Context().Done():
		}
	}
}

// resetMidBody announces a 100-byte body, sends 10 bytes and resets the TCP
// connection.
func resetMidBody(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
	buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST, not FIN
	}
	conn.Close()
}

// serve starts a loopback HTTP server for h, closed when the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClient returns a Client with tiny backoffs, for loopback tests that
// count attempts rather than time them, and closes its connections at the
// end of the test.
func newClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := New("target", append([]Option{WithBackoff(time.Microsecond, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// get sends a GET to url with ctx through c.
func get(ctx context.Context, c *Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// readAll reads and closes resp's body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// pipeNet is an in-memory network for tests inside a synctest bubble: an
// http.Server accepts the server ends of net.Pipe connections that the
// transport dials. Goroutines blocked on it are durably blocked, so fake
// time advances — real sockets would stall it.
type pipeNet struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

// servePipe starts an HTTP server for h on a pipeNet and returns a transport
// that dials it; both are shut down when the test ends. Call it inside the
// bubble.
func servePipe(t *testing.T, h http.Handler) *http.Transport {
	t.Helper()
	pn := &pipeNet{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: h}
	go srv.Serve(pn)
	tr := &http.Transport{DialContext: pn.dial}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return tr
}

func (pn *pipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case pn.conns <- server:
		return client, nil
	case <-pn.closed:
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (pn *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-pn.conns:
		return c, nil
	case <-pn.closed:
		return nil, net.ErrClosed
	}
}

func (pn *pipeNet) Close() error {
	pn.closeOnce.Do(func() { close(pn.closed) })
	return nil
}

func (pn *pipeNet) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// pipeURL is the URL of the pipeNet server (the host is not resolved).
const pipeURL = "http://pipe.test"

// meter records the client's metrics for the test to read.
type meter struct {
	reader *sdkmetric.ManualReader
	opt    Option
}

func newMeter() *meter {
	r := sdkmetric.NewManualReader()
	return &meter{reader: r, opt: WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)))}
}

// count sums the counter name over the data points that carry all attrs.
func (m *meter) count(t *testing.T, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != name {
				continue
			}
			sum, ok := mt.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is %T, want a Sum[int64]", name, mt.Data)
			}
		points:
			for _, dp := range sum.DataPoints {
				for _, kv := range attrs {
					if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
						continue points
					}
				}
				n += dp.Value
			}
		}
	}
	return n
}

// logs records log records for the test to read.
type logs struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logs) WithGroup(string) slog.Handler            { return l }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// transitions returns "from>to" of each breaker state change logged.
func (l *logs) transitions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		var from, to string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "from":
				from = a.Value.String()
			case "to":
				to = a.Value.String()
			}
			return true
		})
		out = append(out, from+">"+to)
	}
	return out
}

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }

func asError(err error, target **Error) bool { return errors.As(err, target) }
