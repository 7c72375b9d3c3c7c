package baseline

import (
	"errors"
	"strings"
	"testing"
)

// TestParse pins the accepted syntax: which inputs are git inputs, how
// options are read and how subdir is cleaned.
func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input string
		want  Input
	}{
		{".git#branch=main", Input{Path: ".git", Git: true, Branch: "main"}},
		{".git#tag=v1.2.0", Input{Path: ".git", Git: true, Tag: "v1.2.0"}},
		{".git#ref=1a2b3c4", Input{Path: ".git", Git: true, Ref: "1a2b3c4"}},
		{".git#ref=HEAD~3", Input{Path: ".git", Git: true, Ref: "HEAD~3"}},
		{".git#branch=release/2.x,subdir=services/api", Input{Path: ".git", Git: true, Branch: "release/2.x", Subdir: "services/api"}},
		{".git#subdir=./a/b/../c/", Input{Path: ".git", Git: true, Subdir: "a/c"}},
		{".git#subdir=.", Input{Path: ".git", Git: true}},
		{".git#branch=main,merge_base=true", Input{Path: ".git", Git: true, Branch: "main", MergeBase: true}},
		{".git#branch=main,merge_base=false", Input{Path: ".git", Git: true, Branch: "main"}},
		{"path/to/repo.git#branch=main", Input{Path: "path/to/repo.git", Git: true, Branch: "main"}},
		{"../other#tag=x", Input{Path: "../other", Git: true, Tag: "x"}},
		{".git", Input{Path: ".git", Git: true}},
		{"repo.git/", Input{Path: "repo.git/", Git: true}},
		{"path/to/dir", Input{Path: "path/to/dir"}},
		{"/abs/dir", Input{Path: "/abs/dir"}},
		{".", Input{Path: "."}},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.raw = tt.input
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.input, got, tt.want)
			}
			if got.String() != tt.input {
				t.Errorf("String() = %q, want the input", got.String())
			}
		})
	}
}

// TestParseErrors pins that every malformed input is an ErrSyntax error
// that says what is wrong.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input string
		want  string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"#branch=main", `no repository before "#"`},
		{".git#", `nothing after "#"`},
		{".git#branch", `option "branch" is not key=value`},
		{".git#branch=", "empty value for branch"},
		{".git#tag=", "empty value for tag"},
		{".git#ref=", "empty value for ref"},
		{".git#subdir=", "empty value for subdir"},
		{".git#depth=50", `unknown key "depth"; want branch, tag, ref, subdir or merge_base`},
		{".git#branch=main,merge_base=yes", `merge_base="yes": want true or false`},
		{".git#Branch=main", `unknown key "Branch"`},
		{".git#branch=main,,subdir=a", "empty option between commas"},
		{".git#branch=main,branch=dev", `key "branch" given twice`},
		{".git#branch=main,tag=v1", "branch, tag and ref exclude each other"},
		{".git#tag=v1,ref=abc", "branch, tag and ref exclude each other"},
		{".git#branch=main,ref=abc", "branch, tag and ref exclude each other"},
		{".git#subdir=..", `subdir "..": leaves the repository`},
		{".git#subdir=../x", `leaves the repository`},
		{".git#subdir=a/../../x", `leaves the repository`},
		{".git#subdir=/etc", "must be relative"},
		{".git#branch=-main", `starts with "-"`},
		{".git#tag=--help", `starts with "-"`},
		{".git#ref=-n1", `ref "-n1" starts with "-"`},
		{".git#branch=a..b", `contains ".."`},
		{".git#branch=a b", "contains ' '"},
		{".git#branch=a~1", "contains '~'"},
		{".git#branch=a:b", "contains ':'"},
		{".git#branch=x@{1}", `contains "@{"`},
		{".git#branch=x.lock", `ends with ".lock"`},
		{".git#branch=.hidden", `starts with "."`},
		{".git#branch=main\n", "control characters"},
		{"dir\x00", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			in, err := Parse(tt.input)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.input, in)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParse pins that Parse never panics and that what it accepts is
// consistent: options only on git inputs, a clean subdir inside the
// repository, no option value starting with "-".
func FuzzParse(f *testing.F) {
	for _, s := range []string{".git#branch=main", "../x#tag=v1,subdir=a/b", "dir", ".git#ref=HEAD~1", "a#subdir=../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in, err := Parse(s)
		if err != nil {
			return
		}
		if !in.Git && (in.Branch != "" || in.Tag != "" || in.Ref != "" || in.Subdir != "") {
			t.Fatalf("options on a directory input: %+v", in)
		}
		if strings.HasPrefix(in.Branch, "-") || strings.HasPrefix(in.Tag, "-") || strings.HasPrefix(in.Ref, "-") {
			t.Fatalf("option starting with -: %+v", in)
		}
		if in.Subdir == ".." || strings.HasPrefix(in.Subdir, "../") || strings.HasPrefix(in.Subdir, "/") || strings.Contains(in.Subdir, "/../") {
			t.Fatalf("subdir escapes: %+v", in)
		}
		if err := in.check(); err != nil {
			t.Fatalf("accepted input fails check: %v", err)
		}
	})
}
