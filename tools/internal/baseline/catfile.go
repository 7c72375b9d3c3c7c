package baseline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// object is what git cat-file says about one object.
type object struct {
	id   string
	typ  string // "blob", "tree", "commit" or "tag"
	size int64
	data []byte // nil for --batch-check
}

// errMissing is a name that names no object.
var errMissing = errors.New("missing")

// errClosed is a read after Close.
var errClosed = errors.New("baseline closed")

// errTooLarge is an object larger than the size limit.
var errTooLarge = errors.New("too large")

// catFile is one long-lived "git cat-file --batch" (or --batch-check)
// process: a request is one line naming an object, the answer a header line
// and, for --batch, the content. Requests are serialized; a catFile is safe
// for concurrent use. After a protocol or I/O error every later request
// fails.
type catFile struct {
	r    *repo
	mode string // "--batch" or "--batch-check"

	mu     sync.Mutex
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *limitedBuffer
	broken error
	closed bool
}

// start runs the process. It outlives the call that started it: it is
// bound to ctx's values but not to its cancellation, and ends on close.
func (c *catFile) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if c.cmd != nil {
		return nil
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(pctx, c.r.bin, "cat-file", c.mode)
	cmd.Env = c.r.env
	cmd.Dir = c.r.gitDir
	cmd.WaitDelay = 5 * time.Second
	c.stderr = &limitedBuffer{max: 64 << 10}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return fmt.Errorf("git cat-file: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return fmt.Errorf("git cat-file: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return fmt.Errorf("git cat-file: %w", err)
	}
	c.cmd, c.cancel, c.stdin, c.stdout = cmd, cancel, stdin, bufio.NewReaderSize(stdout, 64<<10)
	return nil
}

// get asks for the object called name (an object id or "<commit>:<path>").
// It returns errMissing when there is none, and errTooLarge, without the
// content, for a blob larger than max.
func (c *catFile) get(name string, max int64) (object, error) {
	if name == "" || strings.ContainsAny(name, "\n\r\x00") {
		return object{}, fmt.Errorf("object name %q: %w", name, errMissing)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.broken != nil:
		return object{}, c.broken
	case c.closed:
		return object{}, errClosed
	case c.cmd == nil:
		return object{}, errors.New("git cat-file not started")
	}
	obj, err := c.exchange(name, max)
	if err != nil && !errors.Is(err, errMissing) && !errors.Is(err, errTooLarge) {
		c.broken = fmt.Errorf("git cat-file %s: %w%s", c.mode, err, c.stderrNote())
		c.stop()
		return object{}, c.broken
	}
	return obj, err
}

func (c *catFile) exchange(name string, max int64) (object, error) {
	if _, err := io.WriteString(c.stdin, name+"\n"); err != nil {
		return object{}, err
	}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		return object{}, err
	}
	line = strings.TrimSuffix(line, "\n")
	fields := strings.Fields(line)
	if len(fields) != 3 || !isObjectID(fields[0]) {
		// "<name> missing", "<name> ambiguous", "dangling …"
		if strings.HasSuffix(line, " missing") || strings.HasSuffix(line, " ambiguous") || strings.HasSuffix(line, " notdir") {
			return object{}, fmt.Errorf("%s: %w", name, errMissing)
		}
		return object{}, fmt.Errorf("unexpected answer %q", line)
	}
	size, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || size < 0 {
		return object{}, fmt.Errorf("unexpected answer %q", line)
	}
	obj := object{id: fields[0], typ: fields[1], size: size}
	if c.mode != "--batch" {
		return obj, nil
	}
	if size > max {
		// Skip the content (and its newline) to stay in step.
		if _, err := io.CopyN(io.Discard, c.stdout, size+1); err != nil {
			return object{}, err
		}
		return obj, fmt.Errorf("%s is %d bytes, over the limit of %d: %w", name, size, max, errTooLarge)
	}
	obj.data = make([]byte, size+1)
	if _, err := io.ReadFull(c.stdout, obj.data); err != nil {
		return object{}, err
	}
	if obj.data[size] != '\n' {
		return object{}, errors.New("content not followed by a newline")
	}
	obj.data = obj.data[:size:size]
	return obj, nil
}

func (c *catFile) stderrNote() string {
	if c.stderr == nil {
		return ""
	}
	if s := strings.TrimSpace(c.stderr.buf.String()); s != "" {
		return " (" + s + ")"
	}
	return ""
}

// stop ends the process: closing its input makes it exit; the context
// kills it if it does not.
func (c *catFile) stop() error {
	if c.cmd == nil {
		return nil
	}
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		c.cancel()
		err = <-done
	}
	c.cancel()
	c.cmd = nil
	if err != nil && c.broken == nil {
		return fmt.Errorf("git cat-file %s: %w%s", c.mode, err, c.stderrNote())
	}
	return nil
}

// close ends the process; later requests fail.
func (c *catFile) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.stop()
}
