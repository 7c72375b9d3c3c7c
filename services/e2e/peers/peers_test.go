//go:build peers

package peers_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// toolTimeout bounds one run of a peer tool, so a tool that hangs fails
// the test instead of stalling it.
const toolTimeout = time.Minute

// tool returns the path of the peer tool name. It fails the test when the
// tool is not installed: under the peers tag a missing tool is an error.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (Debian package %s; `make peer-test` installs it): %v", name, pkg, err)
	}
	return path
}

// run runs the tool at path with args, stdin (may be nil) and extra
// environment, and returns its stdout and stderr. It fails the test when
// the tool does not finish within toolTimeout; its exit error is returned.
func run(t *testing.T, stdin []byte, env []string, path string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if env != nil {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: did not finish within %v; stderr:\n%s", path, strings.Join(args, " "), toolTimeout, errb.String())
	}
	return out.Bytes(), errb.Bytes(), err
}

// version returns the line of `path args...` that names the version (the
// first line containing "version", else the first line), for the test log.
func version(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, errb, _ := run(t, nil, nil, path, args...)
	lines := strings.Split(strings.TrimSpace(string(out)+string(errb)), "\n")
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), "version") {
			return strings.TrimSpace(l)
		}
	}
	return lines[0]
}
