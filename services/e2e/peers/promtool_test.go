//go:build peers

package peers_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/services/demo/stack"
)

// TestPromtoolChecksMetrics runs Prometheus's own linter on the /metrics
// of every service of the reference system after reservations went
// through (HTTP servers and clients, the outbox relay, the consumers all
// have counted something): `promtool check metrics` must find neither an
// error in the exposition format nor a lint problem (missing HELP, bad
// counter or unit names, …).
func TestPromtoolChecksMetrics(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	t.Logf("promtool: %s", version(t, promtool, "--version"))
	s := startStack(t)
	book(t, s, 4)
	apptest.Wait(t, waitTimeout, "every consumer to count the events", func() (bool, error) {
		for _, svc := range []string{stack.Member, stack.Room, stack.Notification} {
			if !bytes.Contains(scrape(t, s, svc), []byte("keiyaku_events_consumed")) {
				return false, nil
			}
		}
		return true, nil
	})

	for _, svc := range stack.Services {
		t.Run(svc, func(t *testing.T) {
			body := scrape(t, s, svc)
			stdout, stderr, err := run(t, body, nil, promtool, "check", "metrics")
			t.Logf("%s: %d bytes, %d families; promtool check metrics: %v\n%s%s",
				svc, len(body), bytes.Count(body, []byte("\n# TYPE ")), err, stdout, stderr)
			if err != nil || len(bytes.TrimSpace(stdout))+len(bytes.TrimSpace(stderr)) > 0 {
				t.Errorf("promtool check metrics on %s's /metrics: %v\n%s", svc, err, strings.TrimSpace(string(stdout)+string(stderr)))
			}
		})
	}
}
