package stack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// heldPort keeps a TCP port bound for the life of the stack, so that a
// service or the broker can stop and start again on the same address
// without anyone else taking the port in between (picking a free port,
// closing it and binding it later races with every other socket on the
// machine). The part running on the port attaches with [heldPort.Listener]
// and detaches by closing that listener. While nothing is attached,
// connections are accepted and reset at once: to a client the port looks
// like a stopped server.
type heldPort struct {
	ln   net.Listener
	mu   sync.Mutex
	cur  *session
	done chan struct{}
}

// holdPort binds addr (empty or "127.0.0.1:0" picks a port). With accept,
// it accepts connections and hands them to the attached listener;
// without, it only keeps the port bound for a process that inherits it
// ([heldPort.File]).
func holdPort(addr string, accept bool) (*heldPort, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	h := &heldPort{ln: ln, done: make(chan struct{})}
	if accept {
		go h.accept()
	} else {
		close(h.done)
	}
	return h, nil
}

// File returns a duplicate of the listening socket, for a child process.
func (h *heldPort) File() (*os.File, error) {
	tl, ok := h.ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("listener on %s is not TCP", h.Addr())
	}
	return tl.File()
}

// Detach detaches whatever listener is attached; connections are reset
// until the next [heldPort.Listener].
func (h *heldPort) Detach() {
	h.mu.Lock()
	s := h.cur
	h.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
}

// Addr returns the bound host:port.
func (h *heldPort) Addr() string { return h.ln.Addr().String() }

// Listener attaches a new listener to the port, detaching the previous one
// (which then reports net.ErrClosed). Closing the returned listener
// detaches it; the port stays bound.
func (h *heldPort) Listener() net.Listener {
	s := &session{h: h, conns: make(chan net.Conn), closed: make(chan struct{})}
	h.mu.Lock()
	prev := h.cur
	h.cur = s
	h.mu.Unlock()
	if prev != nil {
		_ = prev.Close()
	}
	return s
}

// Close unbinds the port and detaches whatever is attached.
func (h *heldPort) Close() error {
	err := h.ln.Close()
	<-h.done
	h.Detach()
	return err
}

func (h *heldPort) accept() {
	defer close(h.done)
	for {
		c, err := h.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // e.g. EMFILE: let it pass
			continue
		}
		h.mu.Lock()
		s := h.cur
		h.mu.Unlock()
		if s == nil || !s.deliver(c) {
			reset(c)
		}
	}
}

// reset closes c with an RST, as a closed port's kernel would answer.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// session is one attachment to a heldPort; it is a net.Listener.
type session struct {
	h      *heldPort
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (s *session) deliver(c net.Conn) bool {
	select {
	case s.conns <- c:
		return true
	case <-s.closed:
		return false
	}
}

func (s *session) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

func (s *session) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.h.mu.Lock()
		if s.h.cur == s {
			s.h.cur = nil
		}
		s.h.mu.Unlock()
	})
	return nil
}

func (s *session) Addr() net.Addr { return s.h.ln.Addr() }
