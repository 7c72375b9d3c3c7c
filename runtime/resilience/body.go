package resilience

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// errBodyClosed is what reading a closed body returns, as in net/http.
var errBodyClosed = errors.New("http: read on closed response body")

// maxPooledBuffer is the largest buffer put back in bufPool; larger ones
// are left to the garbage collector so one big response does not pin memory.
const maxPooledBuffer = 64 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		b.Reset()
		bufPool.Put(b)
	}
}

// buffer reads resp's body within the attempt, up to limit bytes. A body
// that fits replaces resp.Body with a *bufferedBody and the original is
// closed; a longer one, or any body when limit is 0, becomes a *streamBody
// that calls acancel when closed, and is returned. On a read error resp.Body
// is closed and the error returned.
func buffer(resp *http.Response, limit int64, acancel func()) (*streamBody, error) {
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.Body == http.NoBody {
		return nil, nil
	}
	if limit == 0 || resp.ContentLength > limit {
		sb := &streamBody{r: resp.Body, rest: resp.Body, acancel: acancel}
		resp.Body = sb
		return sb, nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	if err := readUpTo(buf, resp.Body, limit+1); err != nil {
		putBuffer(buf)
		resp.Body.Close()
		return nil, err
	}
	if int64(buf.Len()) <= limit {
		resp.Body.Close()
		resp.Body = &bufferedBody{buf: buf}
		return nil, nil
	}
	// The prefix buffer is not returned to the pool: Close may race with
	// Read on a stream, and a body this long is rare.
	sb := &streamBody{r: io.MultiReader(buf, resp.Body), rest: resp.Body, acancel: acancel}
	resp.Body = sb
	return sb, nil
}

// readUpTo reads r into buf until EOF or until buf holds n bytes. It is
// buf.ReadFrom(io.LimitReader(r, n)) without the allocation.
func readUpTo(buf *bytes.Buffer, r io.Reader, n int64) error {
	for int64(buf.Len()) < n {
		buf.Grow(bytes.MinRead)
		b := buf.AvailableBuffer()
		b = b[:min(int64(cap(b)), n-int64(buf.Len()))]
		m, err := r.Read(b)
		buf.Write(b[:m])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// bufferedBody is a response body read in full during the attempt. Its
// buffer goes back to the pool on Close. Read and Close may be called
// concurrently.
type bufferedBody struct {
	mu  sync.Mutex
	buf *bytes.Buffer // nil once closed
}

func (b *bufferedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, errBodyClosed
	}
	return b.buf.Read(p)
}

func (b *bufferedBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		putBuffer(b.buf)
		b.buf = nil
	}
	return nil
}

// bytes returns the unread body; it is only valid until Read or Close.
func (b *bufferedBody) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return nil
	}
	return b.buf.Bytes()
}

// streamBody is a response body the caller reads from the network, within
// the attempt's context, which closing it ends. It can feed a Recorder as it
// is read.
type streamBody struct {
	r       io.Reader     // what the caller reads: buffered prefix, then rest
	rest    io.ReadCloser // the transport's body
	acancel func()        // ends the attempt context

	// record, if set, is given the whole body once the caller reads it to
	// the end, if it is at most MaxRecordedBody long; tee collects it.
	record func([]byte)
	tee    *bytes.Buffer
}

func (s *streamBody) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.record != nil {
		if s.tee.Len()+n > MaxRecordedBody {
			s.record, s.tee = nil, nil
		} else {
			s.tee.Write(p[:n])
			if err == io.EOF {
				s.record(s.tee.Bytes())
				s.record, s.tee = nil, nil
			}
		}
	}
	return n, err
}

func (s *streamBody) Close() error {
	err := s.rest.Close()
	s.acancel()
	return err
}
