package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// A part is where a CPU profile's samples land: the part of the system
// whose code was running, or that called the Go runtime or standard
// library code that was (so allocation is charged to the code that
// allocates, a syscall to the network code that made it).
type part struct {
	name  string
	share float64 // of all samples, 0..1
}

const (
	partGC    = "Go runtime: background GC"
	partSched = "Go runtime: scheduler and idle"
	partOther = "Go standard library, other"
)

// parts maps a function to the part of the system it belongs to; the
// first prefix that matches wins.
var parts = []struct{ name, prefix string }{
	{"SQLite (modernc.org/sqlite, its libc)", "modernc.org/"},
	{"PostgreSQL driver (pgx)", "github.com/jackc/"},
	{"Kafka client and embedded broker (franz-go, kfake)", "github.com/twmb/franz-go"},
	{"Avro (twmb/avro)", "github.com/twmb/avro"},
	{"request validation (kin-openapi)", "github.com/getkin/"},
	{"oasdiff (diff and checks)", "github.com/oasdiff/"},
	{"YAML", "go.yaml.in/"},
	{"YAML", "gopkg.in/yaml"},
	{"OpenTelemetry", "go.opentelemetry.io/"},
	{"JSON (encoding/json)", "encoding/json."},
	{"Keiyaku (runtime, services, gen, tools)", "github.com/keiyaku/"},
	{"HTTP and TCP (net/http, net, syscalls)", "net/"},
	{"HTTP and TCP (net/http, net, syscalls)", "net."},
	{"HTTP and TCP (net/http, net, syscalls)", "internal/poll."},
	{"HTTP and TCP (net/http, net, syscalls)", "syscall."},
	{"HTTP and TCP (net/http, net, syscalls)", "crypto/tls."},
}

// breakdown reads a CPU profile and returns the share of its samples in
// each part, largest first, the parts under min folded into "other".
func breakdown(file string, min float64) ([]part, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// The CPU sample type (the last is "cpu/nanoseconds" in Go's profiles).
	vi := len(p.SampleType) - 1
	sums := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		sums[partOfStack(s)] += v
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: the profile holds no samples", file)
	}
	var res []part
	var other float64
	for name, v := range sums {
		share := float64(v) / float64(total)
		if share < min {
			other += share
			continue
		}
		res = append(res, part{name, share})
	}
	slices.SortFunc(res, func(a, b part) int {
		return cmp.Or(cmp.Compare(b.share, a.share), strings.Compare(a.name, b.name))
	})
	if other > 0 {
		res = append(res, part{"other (each under " + fmt.Sprintf("%.0f %%", min*100) + ")", other})
	}
	return res, nil
}

// partOfStack names the part of a sample's stack (leaf first): the first
// frame in a named part; else background GC or the scheduler when the
// stack is theirs; else the standard library.
func partOfStack(s *profile.Sample) string {
	var runtimeGC, sched bool
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			fn := line.Function.Name
			if p := partOf(fn); p != "" {
				return p
			}
			switch {
			case strings.HasPrefix(fn, "runtime.gcBgMarkWorker"), strings.HasPrefix(fn, "runtime.bgsweep"),
				strings.HasPrefix(fn, "runtime.bgscavenge"), strings.HasPrefix(fn, "runtime.gcStart"):
				runtimeGC = true
			case fn == "runtime.mcall", fn == "runtime.schedule", fn == "runtime.findRunnable",
				fn == "runtime.mstart", fn == "runtime.sysmon", fn == "runtime.netpoll":
				sched = true
			}
		}
	}
	switch {
	case runtimeGC:
		return partGC
	case sched:
		return partSched
	}
	return partOther
}

// partOf names the part a function belongs to, "" when none.
func partOf(fn string) string {
	for _, p := range parts {
		if strings.HasPrefix(fn, p.prefix) {
			return p.name
		}
	}
	return ""
}

// profileShares is the breakdown of the CPU profile file, parts under 3 %
// folded, on one line, or why there is none.
func profileShares(file string) string {
	ps, err := breakdown(file, 0.03)
	if err != nil {
		return "no profile: " + oneLine(err.Error())
	}
	return shares(ps)
}

// shares formats a breakdown on one line: "SQLite 35 %, …".
func shares(ps []part) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%s %.0f %%", p.name, p.share*100)
	}
	return strings.Join(s, "; ")
}
