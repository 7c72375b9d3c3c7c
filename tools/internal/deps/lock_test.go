package deps_test

import (
	"strings"
	"testing"

	"github.com/keiyaku/keiyaku/tools/internal/deps"
	"github.com/keiyaku/keiyaku/tools/internal/export"
)

// TestLockRoundTrip pins that keiyaku.lock is deterministic (sorted
// entries and files, whatever the order given) and reads back as written,
// and that a hand-edited file digest, an unknown key or another version is
// refused rather than trusted.
func TestLockRoundTrip(t *testing.T) {
	t.Parallel()
	files := []export.File{{Path: "contracts/m/v1/openapi.yaml", SHA256: strings.Repeat("b", 64)}, {Path: "contracts/a/v1/x.yaml", SHA256: strings.Repeat("a", 64)}}
	l := &deps.Lock{Deps: []deps.Locked{
		{Name: "zeta", Source: "../z.git", Ref: "v1", Tag: "v1", Module: "contracts/m/v1", Commit: strings.Repeat("1", 40), Files: files, Digest: export.Digest(files)},
		{Name: "alpha", Source: "../a", Module: "contracts/m/v1", Files: files[:1], Digest: export.Digest(files[:1])},
	}}
	data, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if strings.Index(s, "name: alpha") > strings.Index(s, "name: zeta") || strings.Index(s, "path: contracts/a/v1/x.yaml") > strings.LastIndex(s, "path: contracts/m/v1/openapi.yaml") {
		t.Errorf("not sorted:\n%s", s)
	}
	back, err := deps.ParseLock(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if string(again) != s {
		t.Errorf("round trip changed the lock:\n%s\n---\n%s", s, again)
	}
	for _, c := range []struct{ name, data, want string }{
		{"edited file digest", strings.Replace(s, strings.Repeat("a", 64), strings.Repeat("c", 64), 1), `dep "zeta": the digest does not sum its files`},
		{"unknown key", s + "extra: 1\n", "field extra not found"},
		{"other version", strings.Replace(s, "version: v1", "version: v9", 1), `version "v9"`},
	} {
		if _, err := deps.ParseLock([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
