package stack

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// TestHeldPortKeepsTheAddress pins what replaced pick-a-free-port-then-bind:
// a service that stops and starts again serves on the same address without
// binding it again, and while it is stopped a client's connection is reset
// at once (as by a closed port), not left hanging.
func TestHeldPortKeepsTheAddress(t *testing.T) {
	t.Parallel()
	h, err := holdPort("", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	url := "http://" + h.Addr() + "/"
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for _, run := range []string{"first", "second"} {
		ln := h.Listener()
		if ln.Addr().String() != h.Addr() {
			t.Fatalf("%s run: listener on %s, port held on %s", run, ln.Addr(), h.Addr())
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, run) })}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		if got, err := get(); err != nil || got != run {
			t.Fatalf("%s run: GET = %q, %v", run, got, err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		<-done
		if got, err := get(); err == nil {
			t.Fatalf("%s run stopped: GET = %q, want a connection error", run, got)
		}
	}
	if _, err := net.Listen("tcp", h.Addr()); err == nil {
		t.Fatal("the port was free while held")
	}
}
