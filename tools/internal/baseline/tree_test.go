package baseline

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// TestParseTree pins that a well-formed tree object decodes and that
// corrupt ones are errors, not panics or paths that leave the tree.
func TestParseTree(t *testing.T) {
	t.Parallel()
	id := bytes.Repeat([]byte{0xab}, 20)
	entry := func(mode, name string) []byte {
		return append([]byte(mode+" "+name+"\x00"), id...)
	}
	good := append(entry("100644", "a.avsc"), entry("40000", "dir")...)
	entries, err := parseTree(good, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].name != "a.avsc" || entries[0].mode != modeBlob || entries[1].mode != modeTree || entries[1].id != hex.EncodeToString(id) {
		t.Errorf("parseTree = %+v", entries)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"no mode", []byte("abc"), "no mode"},
		{"bad mode", entry("10x644", "a"), "mode"},
		{"short id", append([]byte("100644 a\x00"), id[:10]...), "truncated"},
		{"no name", entry("100644", ""), "truncated"},
		{"dot dot", entry("40000", ".."), `entry name ".."`},
		{"slash", entry("100644", "a/b"), `entry name "a/b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseTree(tt.data, 20)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzParseTree pins that no tree object, however corrupt, panics the
// decoder.
func FuzzParseTree(f *testing.F) {
	f.Add([]byte("100644 a\x00aaaaaaaaaaaaaaaaaaaa40000 d\x00bbbbbbbbbbbbbbbbbbbb"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseTree(data, 20)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.name == "" || e.name == "." || e.name == ".." || strings.Contains(e.name, "/") || len(e.id) != 40 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
