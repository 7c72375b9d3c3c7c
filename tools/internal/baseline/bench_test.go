package baseline

import (
	"fmt"
	"os/exec"
	"testing"
)

// benchRepo is a repository with 50 contract files under ws/, committed
// three times.
func benchRepo(b *testing.B) (*testRepo, []string) {
	r := newTestRepo(b)
	var paths []string
	for round := range 3 {
		files := map[string]string{}
		for i := range 50 {
			p := fmt.Sprintf("contracts/svc%02d/v1/avro/Event%02d.avsc", i%10, i)
			files["ws/"+p] = schema("hotel.v1", fmt.Sprintf("Event%02d", i), fmt.Sprint(round))
			if round == 0 {
				paths = append(paths, p)
			}
		}
		r.commit(fmt.Sprint("round ", round), files)
	}
	r.git("tag", "v1")
	return r, paths
}

// BenchmarkReadFiles measures reading 50 files at a ref through the one
// long-lived cat-file process, against one "git show" per file.
func BenchmarkReadFiles(b *testing.B) {
	r, paths := benchRepo(b)
	b.Run("catfile", func(b *testing.B) {
		bl, err := Open(b.Context(), mustParse(b, ".git#tag=v1,subdir=ws"), WithDir(r.dir))
		if err != nil {
			b.Fatal(err)
		}
		defer bl.Close()
		for b.Loop() {
			for _, p := range paths {
				if _, err := bl.ReadFile(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("git-show-per-file", func(b *testing.B) {
		for b.Loop() {
			for _, p := range paths {
				cmd := exec.Command("git", "show", "v1:ws/"+p)
				cmd.Dir = r.dir
				cmd.Env = gitTestEnv()
				if _, err := cmd.Output(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkOpen measures resolving a ref and starting the reader.
func BenchmarkOpen(b *testing.B) {
	r, _ := benchRepo(b)
	for b.Loop() {
		bl, err := Open(b.Context(), mustParse(b, ".git#tag=v1,subdir=ws"), WithDir(r.dir))
		if err != nil {
			b.Fatal(err)
		}
		bl.Close()
	}
}
