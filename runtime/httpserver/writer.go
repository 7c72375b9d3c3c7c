package httpserver

import (
	"bytes"
	"net/http"
)

// trackingWriter remembers whether the final status line was sent.
type trackingWriter struct {
	http.ResponseWriter
	status int // final status once wrote is set
	wrote  bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends buffered data to the client if the underlying writer can.
func (w *trackingWriter) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// capturingWriter passes the response through and keeps a copy of its
// status, the headers named in keep, and up to limit bytes of body.
type capturingWriter struct {
	trackingWriter
	keep     []string
	limit    int
	header   http.Header
	body     bytes.Buffer
	overflow bool
}

func (w *capturingWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.snapshot()
	}
	w.trackingWriter.WriteHeader(code)
}

func (w *capturingWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.snapshot()
	}
	if !w.overflow {
		if w.body.Len()+len(p) > w.limit {
			w.overflow = true
			w.body = bytes.Buffer{}
		} else {
			w.body.Write(p)
		}
	}
	return w.trackingWriter.Write(p)
}

func (w *capturingWriter) Flush() {
	if !w.wrote {
		w.snapshot()
	}
	w.trackingWriter.Flush()
}

func (w *capturingWriter) snapshot() {
	h := w.ResponseWriter.Header()
	for _, k := range w.keep {
		if vs := h.Values(k); len(vs) > 0 {
			if w.header == nil {
				w.header = make(http.Header, len(w.keep))
			}
			w.header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
		}
	}
}
