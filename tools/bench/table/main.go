// Command table runs Keiyaku's performance benchmarks next to their
// references and prints one Markdown table — benchmark, Keiyaku,
// reference, ratio, goal, met? — which it also writes to BENCHMARKS.md
// with the machine it ran on:
//
//	go run ./tools/bench/table            # what `make bench` runs
//	go run ./tools/bench/table -o ''      # print only
//
// Every ratio comes from one run in which Keiyaku and its reference take
// turns (the interleaved Go benchmarks of runtime/events, runtime/outbox
// and runtime/resilience; the Stripe pair alternating keiyaku breaking
// and the oasdiff CLI; the generate script's medians), so the load of a
// shared machine moves both sides alike. Each figure is the median of
// -count runs. The load test (services/loadgen, embedded stack, 32
// workers) runs -load-runs times on SQLite and once on PostgreSQL when
// -postgres or KEIYAKU_TEST_POSTGRES_DSN names one.
//
// It needs the Go toolchain, git, and for the gate row the Stripe pair at
// -stripe (skipped, and said so, when missing).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench table:", err)
		os.Exit(1)
	}
}

type config struct {
	out       string
	count     int
	gateCount int
	loadRuns  int
	postgres  string
	stripe    string
	duration  time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.out, "o", "BENCHMARKS.md", "file to write the table to; empty: print only")
	fs.IntVar(&cfg.count, "count", 5, "runs of each Go benchmark (medians)")
	fs.IntVar(&cfg.gateCount, "gate-count", 3, "runs of each side of the Stripe pair (medians)")
	fs.IntVar(&cfg.loadRuns, "load-runs", 2, "load runs on SQLite (median)")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv("KEIYAKU_TEST_POSTGRES_DSN"), "PostgreSQL for the load run on PostgreSQL (default $KEIYAKU_TEST_POSTGRES_DSN); empty: skipped")
	fs.StringVar(&cfg.stripe, "stripe", "/work/shared/testdata/stripe", "folder with the Stripe pair spec3.2022-02-11.json and spec3.2022-02-24.json")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each load run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.count < 1 || cfg.gateCount < 1 || cfg.loadRuns < 1 {
		return errors.New("-count, -gate-count and -load-runs must be at least 1")
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root (go run ./tools/bench/table)")
	}
	if cfg.postgres != "" {
		// The Go benchmarks' PostgreSQL halves read it.
		if err := os.Setenv("KEIYAKU_TEST_POSTGRES_DSN", cfg.postgres); err != nil {
			return err
		}
	}
	start := time.Now()
	tmp, err := os.MkdirTemp("", "keiyaku-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{ctx: ctx, cfg: cfg, tmp: tmp, log: stderr, why: map[string]string{}}
	machine := b.machine()

	steps := []struct {
		name string
		fn   func() ([]row, error)
	}{
		{"load (services/loadgen, embedded stack)", b.load},
		{"events (runtime/events, interleaved Go benchmarks)", b.events},
		{"outbox relay (runtime/outbox)", b.relay},
		{"HTTP client (runtime/resilience)", b.httpClient},
		{"gate (keiyaku breaking vs oasdiff, Stripe pair)", b.gate},
		{"generate (keiyaku generate vs oapi-codegen CLI)", b.generate},
	}
	var rows []row
	for _, s := range steps {
		fmt.Fprintf(stderr, "bench: %s …\n", s.name)
		t0 := time.Now()
		rs, err := s.fn()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "bench: %s failed: %v\n", s.name, err)
			rs = []row{{name: s.name, keiyaku: "failed: " + oneLine(err.Error()), met: "no"}}
		}
		fmt.Fprintf(stderr, "bench: %s done in %s\n", s.name, time.Since(t0).Round(time.Second))
		rows = append(rows, rs...)
	}
	doc, table := render(machine, rows, b.why, time.Since(start), cfg)
	if _, err := io.WriteString(stdout, doc); err != nil {
		return err
	}
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", cfg.out)
		if err := updateReadme("README.md", table); err != nil {
			return err
		}
	}
	return nil
}

// The README's performance section is the table, between these markers.
const (
	readmeStart = "<!-- bench:start -->\n"
	readmeEnd   = "<!-- bench:end -->"
)

// updateReadme puts table between the markers of file; a file without
// them is left alone.
func updateReadme(file, table string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(data)
	i, j := strings.Index(s, readmeStart), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		return nil
	}
	s = s[:i+len(readmeStart)] + table + s[j:]
	return os.WriteFile(file, []byte(s), 0o644)
}

// row is one line of the table.
type row struct {
	name, keiyaku, reference, ratio, goal, met string
}

type bench struct {
	ctx context.Context
	cfg config
	tmp string
	log io.Writer
	// why holds, by row name, where the CPU time of a profile goes for
	// the goals not met.
	why map[string]string
}

// machine describes where the run happens.
func (b *bench) machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(data); m != nil {
			cpu = strings.TrimSpace(string(m[1]))
		}
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average at start " + strings.Join(strings.Fields(string(data))[:3], " ")
	}
	gover, _ := b.output("go", "env", "GOVERSION")
	commit, _ := b.output("git", "rev-parse", "--short", "HEAD")
	return fmt.Sprintf("%d CPUs (nproc), %s, %s, linux/%s, commit %s, %s%s",
		runtime.NumCPU(), cpu, strings.TrimSpace(gover), runtime.GOARCH, strings.TrimSpace(commit),
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), load)
}

// output runs a command in the repository and returns its stdout.
func (b *bench) output(name string, args ...string) (string, error) {
	return b.outputIn("", name, args...)
}

// outputIn runs a command in dir ("": the repository) and returns its
// stdout.
func (b *bench) outputIn(dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(b.ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(errb.String(), 5))
	}
	return out.String(), nil
}

// inModule splits pkg, a "./"-relative package folder of the repository,
// into the folder of the Go module holding it (the nearest go.mod above
// it: the runtime's packages are modules of their own) and the package
// relative to that folder, as go test must be run there.
func inModule(pkg string) (dir, rel string) {
	clean := filepath.Clean(pkg)
	for d := clean; d != "." && d != string(filepath.Separator); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			r, _ := filepath.Rel(d, clean)
			return d, "./" + filepath.ToSlash(r)
		}
	}
	return "", pkg
}

// goBench runs Go benchmarks and returns the median of every metric, by
// benchmark name (without the -N suffix) and unit.
func (b *bench) goBench(pkg, pattern string, extra ...string) (map[string]map[string]float64, error) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-count", strconv.Itoa(b.cfg.count)}, extra...)
	dir, rel := inModule(pkg)
	out, err := b.outputIn(dir, "go", append(args, rel)...)
	if err != nil {
		return nil, err
	}
	samples := map[string]map[string][]float64{}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				samples[name][f[i+1]] = append(samples[name][f[i+1]], v)
			}
		}
	}
	res := map[string]map[string]float64{}
	for name, units := range samples {
		res[name] = map[string]float64{}
		for u, vs := range units {
			res[name][u] = median(vs)
		}
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("no benchmark matched %s in %s", pattern, pkg)
	}
	return res, nil
}

// profileBench runs one Go benchmark once more with a CPU profile and
// returns where its time goes.
func (b *bench) profileBench(pkg, pattern, benchtime string) string {
	prof := filepath.Join(b.tmp, "cpu.pprof")
	dir, rel := inModule(pkg)
	if _, err := b.outputIn(dir, "go", "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", "1",
		"-cpuprofile", prof, "-o", filepath.Join(b.tmp, "bench.test"), rel); err != nil {
		return "no profile: " + oneLine(err.Error())
	}
	return profileShares(prof)
}

func (b *bench) events() ([]row, error) {
	m, err := b.goBench("./runtime/events/", "^Benchmark(PublishBatch|Produce)/interleaved$")
	if err != nil {
		return nil, err
	}
	// An iteration of the consumer arms reads 5 × 50,000 records: three per run.
	mc, err := b.goBench("./runtime/events/", "^BenchmarkConsume/interleaved$", "-benchtime", "3x")
	if err != nil {
		return nil, err
	}
	maps.Copy(m, mc)
	c, p, s := m["BenchmarkConsume/interleaved"], m["BenchmarkPublishBatch/interleaved"], m["BenchmarkProduce/interleaved"]
	if c == nil || p == nil || s == nil {
		return nil, errors.New("missing interleaved results")
	}
	fair := fmt.Sprintf("%s rec/s raw poll + twmb/avro decode + commit", num(c["raw-decode-records/s"]))
	untraced := row{"Consumer pipeline, untraced (50k records, 4 partitions)", rate(c["pipeline-records/s"], "rec/s"), fair, ratio(c["pipeline/raw-decode"]), "≥ 0.9×", atLeast(c["pipeline/raw-decode"], 0.9)}
	if c["pipeline/raw-decode"] < 0.9 {
		b.why[untraced.name] = "CPU profile of BenchmarkConsume/pipeline (its setup, producing the 50k records, included): " +
			b.profileBench("./runtime/events/", "^BenchmarkConsume/pipeline$", "3x")
	}
	sampled := row{"Consumer pipeline, parent-based 10% sampler", rate(c["pipeline-sampled-records/s"], "rec/s"), "same raw loop", ratio(c["pipeline-sampled/raw-decode"]), "≥ 0.7×", atLeast(c["pipeline-sampled/raw-decode"], 0.7)}
	if c["pipeline-sampled/raw-decode"] < 0.7 {
		b.why[sampled.name] = "CPU profile of BenchmarkConsume/pipeline-sampled (its setup included): " +
			b.profileBench("./runtime/events/", "^BenchmarkConsume/pipeline-sampled$", "3x")
	}
	return []row{
		untraced,
		sampled,
		{"Consumer pipeline, every span recorded", rate(c["pipeline-traced-records/s"], "rec/s"), "same raw loop", ratio(c["pipeline-traced/raw-decode"]), "—", "—"},
		{"Consumer pipeline vs raw poll loop without decode", rate(c["pipeline-records/s"], "rec/s"), rate(c["raw-records/s"], "rec/s") + " raw PollRecords, counting", ratio(c["pipeline/raw-decode"] / c["raw/raw-decode"]), "—", "—"},
		{"Producer.Send, batches of 1,000 (the relay's path)", rate(p["send-records/s"], "rec/s"), rate(p["raw-records/s"], "rec/s") + " raw async kgo.Produce, same records", ratio(p["send/raw"]), "≥ 0.9×", atLeast(p["send/raw"], 0.9)},
		{"PublishBatch of 1,000 events (encode, headers, produce)", rate(p["publish-batch-records/s"], "rec/s"), rate(p["raw-encode-records/s"], "rec/s") + " twmb/avro encode + async kgo.Produce", ratio(p["publish-batch/raw-encode"]), "—", "—"},
		{"Publish, one event at a time, synchronous", rate(s["publish-records/s"], "rec/s"), rate(s["raw-records/s"], "rec/s") + " raw kgo.ProduceSync", ratio(s["publish/raw"]), "—", "—"},
	}, nil
}

func (b *bench) relay() ([]row, error) {
	// The PostgreSQL half runs when KEIYAKU_TEST_POSTGRES_DSN is set
	// (run sets it from -postgres).
	m, err := b.goBench("./runtime/outbox/", "^BenchmarkRelayKafka/", "-benchtime", "4x")
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, backend := range []string{"sqlite", "postgres"} {
		r := m["BenchmarkRelayKafka/"+backend]
		if r == nil {
			continue
		}
		rows = append(rows, row{"Outbox relay, " + backend + " (5,000 rows, batches of 256)", rate(r["relay-rows/s"], "rows/s"),
			rate(r["raw-rows/s"], "rows/s") + " raw async kgo.Produce, same rows", ratio(r["relay/raw"]), "—", "—"})
	}
	return rows, nil
}

func (b *bench) httpClient() ([]row, error) {
	m, err := b.goBench("./runtime/resilience/", "^BenchmarkRoundTrip/(bare|resilience)$")
	if err != nil {
		return nil, err
	}
	bare, res := m["BenchmarkRoundTrip/bare"]["ns/op"], m["BenchmarkRoundTrip/resilience"]["ns/op"]
	return []row{{"GET over loopback through the resilience client", rate(1e9/res, "req/s"), rate(1e9/bare, "req/s") + " bare http.Client", ratio(bare / res), "—", "—"}}, nil
}

// load runs services/loadgen on the embedded stack.
func (b *bench) load() ([]row, error) {
	bin := filepath.Join(b.tmp, "loadgen")
	if _, err := b.output("go", "build", "-o", bin, "./services/loadgen"); err != nil {
		return nil, err
	}
	var runs []loadRun
	prof := filepath.Join(b.tmp, "load.pprof")
	for i := range b.cfg.loadRuns {
		var extra []string
		if i == b.cfg.loadRuns-1 {
			extra = []string{"-cpuprofile", prof}
		}
		r, err := b.loadOnce(bin, extra...)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	med := func(f func(loadRun) float64) float64 {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = f(r)
		}
		return median(vs)
	}
	rps, p99, lag := med(func(r loadRun) float64 { return r.rps }), med(func(r loadRun) float64 { return r.p99 }), med(func(r loadRun) float64 { return r.lagP99 })
	bad, refused := 0, 0
	for _, r := range runs {
		bad += r.lost + r.twice
		refused += r.refused
	}
	runsNote := fmt.Sprintf("median of %d runs", len(runs))
	throughput := row{"Reservations made (201) per second, 32 workers, SQLite (" + runsNote + ")", fmt.Sprintf("%s req/s (%d answers other than 201 in all runs)", num(rps), refused), "—", "—", "≥ 1,000 req/s", atLeast(rps, 1000)}
	if rps < 1000 || p99 > 50 {
		b.why[throughput.name] = "CPU profile of the last SQLite run (the four services, the broker and the load in one process): " + profileShares(prof)
	}
	rows := []row{
		throughput,
		{"p99 latency of POST /reservations, same runs", fmt.Sprintf("%.1f ms", p99), "—", "—", "≤ 50 ms", atMost(p99, 50)},
		{"Outbox lag p99 (commit → broker ack), same runs", "≤ " + ms(lag), "—", "—", "≤ 100 ms", atMost(lag, 100)},
		{"Events lost or handled twice, same runs", strconv.Itoa(bad), "—", "—", "0", atMost(float64(bad), 0)},
		{"CPU per reservation, whole stack and load in one process, same runs", fmt.Sprintf("%.1f ms (the cores, if the run had them to itself: ~%s req/s)",
			med(func(r loadRun) float64 { return r.cpuMS }), num(med(func(r loadRun) float64 { return r.capacity }))), "—", "—", "—", "—"},
	}
	if b.cfg.postgres != "" {
		r, err := b.loadOnce(bin, "-postgres", b.cfg.postgres)
		if err != nil {
			rows = append(rows, row{name: "Reservations/s, 32 workers, PostgreSQL", keiyaku: "failed: " + oneLine(err.Error()), met: "no"})
		} else {
			rows = append(rows, row{"Reservations/s, 32 workers, PostgreSQL (one run)",
				fmt.Sprintf("%s req/s made (%d other answers), p99 %.1f ms, outbox lag p99 ≤ %s, %d lost/twice, %.1f ms CPU per request", num(r.rps), r.refused, r.p99, ms(r.lagP99), r.lost+r.twice, r.cpuMS),
				"—", "—", "figure only", "—"})
		}
	}
	return rows, nil
}

type loadRun struct {
	rps, p99, lagP99 float64 // rps: reservations made (201) per second
	refused          int     // answers other than 201 (e.g. 503 when a neighbour timed out)
	cpuMS, capacity  float64 // CPU per request; req/s the cores could do at that cost
	lost, twice      int
}

var (
	reRequests = regexp.MustCompile(`requests\s+(\d+) answered in ([\d.]+) s \(201: (\d+)`)
	reP99      = regexp.MustCompile(`latency .* p99 ([\d.]+) ms`)
	reLag      = regexp.MustCompile(`outbox lag .* p99 ≤ ([\d.]+ ms|∞)`)
	reEvents   = regexp.MustCompile(`; (\d+) lost, (\d+) handled twice`)
	reCPU      = regexp.MustCompile(`cpu\s+([\d.]+) ms per request: .* ~(\d+) req/s`)
)

func (b *bench) loadOnce(bin string, extra ...string) (loadRun, error) {
	args := append([]string{"-embedded", "-duration", b.cfg.duration.String(), "-concurrency", "32"}, extra...)
	out, err := b.output(bin, args...)
	if err != nil {
		return loadRun{}, err
	}
	fmt.Fprint(b.log, indent(out))
	var r loadRun
	m1, m2, m3, m4 := reRequests.FindStringSubmatch(out), reP99.FindStringSubmatch(out), reLag.FindStringSubmatch(out), reEvents.FindStringSubmatch(out)
	if m1 == nil || m2 == nil || m3 == nil || m4 == nil {
		return r, fmt.Errorf("unexpected loadgen report:\n%s", out)
	}
	answered, _ := strconv.Atoi(m1[1])
	secs, _ := strconv.ParseFloat(m1[2], 64)
	created, _ := strconv.Atoi(m1[3])
	r.rps, r.refused = float64(created)/secs, answered-created
	r.p99, _ = strconv.ParseFloat(m2[1], 64)
	r.lagP99 = math.Inf(1)
	if v, err := strconv.ParseFloat(strings.TrimSuffix(m3[1], " ms"), 64); err == nil {
		r.lagP99 = v
	}
	if m := reCPU.FindStringSubmatch(out); m != nil {
		r.cpuMS, _ = strconv.ParseFloat(m[1], 64)
		r.capacity, _ = strconv.ParseFloat(m[2], 64)
	}
	r.lost, _ = strconv.Atoi(m4[1])
	r.twice, _ = strconv.Atoi(m4[2])
	return r, nil
}

// gate times keiyaku breaking and the oasdiff CLI on the Stripe pair,
// alternating, and compares wall time and peak RSS.
func (b *bench) gate() ([]row, error) {
	old, cur := filepath.Join(b.cfg.stripe, "spec3.2022-02-11.json"), filepath.Join(b.cfg.stripe, "spec3.2022-02-24.json")
	if _, err := os.Stat(old); err != nil {
		return []row{{"keiyaku breaking, Stripe pair", "not measured: no Stripe pair at " + b.cfg.stripe + " (-stripe)", "", "", "≤ 0.7× time", "—"}}, nil
	}
	keiyaku := filepath.Join(b.tmp, "keiyaku")
	if _, err := b.output("go", "build", "-o", keiyaku, "./tools/keiyaku"); err != nil {
		return nil, err
	}
	version, err := b.output("go", "list", "-m", "-f", "{{.Version}}", "github.com/oasdiff/oasdiff")
	if err != nil {
		return nil, err
	}
	version = strings.TrimSpace(version)
	cmd := exec.CommandContext(b.ctx, "go", "install", "github.com/oasdiff/oasdiff@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+b.tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go install oasdiff@%s: %w: %s", version, err, lastLines(string(out), 5))
	}
	oasdiff := filepath.Join(b.tmp, "oasdiff")
	var kt, ot, km, om []float64
	for range b.cfg.gateCount {
		d, rss, err := b.timed(keiyaku, "breaking", "--against", old, cur)
		if err != nil {
			return nil, err
		}
		kt, km = append(kt, d), append(km, rss)
		d, rss, err = b.timed(oasdiff, "breaking", old, cur)
		if err != nil {
			return nil, err
		}
		ot, om = append(ot, d), append(om, rss)
	}
	t, o := median(kt), median(ot)
	mk, mo := median(km), median(om)
	wall := row{"keiyaku breaking, Stripe pair (2 × 3.9 MB), wall time", fmt.Sprintf("%.2f s", t), fmt.Sprintf("%.2f s oasdiff %s breaking", o, version), ratio(t / o), "≤ 0.7×", atMost(t/o, 0.7)}
	if t/o > 0.7 {
		b.why[wall.name] = "CPU profile of BenchmarkStripe/keiyaku (the same two-file check in-process): " + b.profileBench("./tools/internal/breaking/", "^BenchmarkStripe/keiyaku$", "2x")
	}
	return []row{
		wall,
		{"keiyaku breaking, Stripe pair, peak memory (max RSS)", fmt.Sprintf("%.0f MB", mk), fmt.Sprintf("%.0f MB oasdiff", mo), ratio(mk / mo), "≤ 1.2×", atMost(mk/mo, 1.2)},
	}, nil
}

// timed runs a command to its end and returns its wall time in seconds
// and its peak RSS in MB; exit status 100 (findings) counts as success.
func (b *bench) timed(name string, args ...string) (float64, float64, error) {
	cmd := exec.CommandContext(b.ctx, name, args...)
	cmd.Stdout = io.Discard
	var errb bytes.Buffer
	cmd.Stderr = &errb
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0).Seconds()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 100) {
		return 0, 0, fmt.Errorf("%s: %w: %s", filepath.Base(name), err, lastLines(errb.String(), 5))
	}
	rss := 0.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) / 1024 // KB on Linux
	}
	return d, rss, nil
}

var (
	reGenFull = regexp.MustCompile(`keiyaku generate, full:\s+([\d.]+) ms`)
	reGenCLI  = regexp.MustCompile(`oapi-codegen CLI.*: ([\d.]+) ms`)
)

// generate runs tools/bench/generate.sh: medians of 5 runs of keiyaku
// generate (full) and of the oapi-codegen CLI, one after the other.
func (b *bench) generate() ([]row, error) {
	// The Makefile's pin, else the version in go.mod.
	version := os.Getenv("OAPI_CODEGEN_VERSION")
	if version == "" {
		v, err := b.output("go", "list", "-m", "-f", "{{.Version}}", "github.com/oapi-codegen/oapi-codegen/v2")
		if err != nil {
			return nil, err
		}
		version = v
	}
	cmd := exec.CommandContext(b.ctx, "tools/bench/generate.sh")
	cmd.Env = append(os.Environ(), "OAPI_CODEGEN_VERSION="+strings.TrimSpace(version))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("generate.sh: %w: %s", err, lastLines(string(out), 5))
	}
	m1, m2 := reGenFull.FindSubmatch(out), reGenCLI.FindSubmatch(out)
	if m1 == nil || m2 == nil {
		return nil, fmt.Errorf("unexpected generate.sh output:\n%s", out)
	}
	k, _ := strconv.ParseFloat(string(m1[1]), 64)
	o, _ := strconv.ParseFloat(string(m2[1]), 64)
	return []row{{"keiyaku generate, full, 4 contracts + shared", fmt.Sprintf("%.0f ms", k), fmt.Sprintf("%.0f ms oapi-codegen CLI %s, one process per document", o, strings.TrimSpace(version)), ratio(k / o), "—", "—"}}, nil
}

// render builds the Markdown document, and the part of it the README
// carries: the table and the machine it ran on.
func render(machine string, rows []row, why map[string]string, took time.Duration, cfg config) (doc, table string) {
	var t strings.Builder
	fmt.Fprintf(&t, "Measured on %s; the run took %s. Ratios are Keiyaku ÷ reference (rates: higher is better; time and memory: lower is better), each from one run in which the two take turns; figures are medians of %d runs (Stripe pair: %d; load: %d runs of %s).\n\n",
		machine, took.Round(time.Second), cfg.count, cfg.gateCount, cfg.loadRuns, cfg.duration)
	t.WriteString("| benchmark | Keiyaku | reference | ratio | goal | met? |\n|---|---|---|---|---|---|\n")
	var profiled []row
	for _, r := range rows {
		fmt.Fprintf(&t, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.keiyaku, r.reference, r.ratio, r.goal, r.met)
		if why[r.name] != "" {
			profiled = append(profiled, r)
		}
	}
	if len(profiled) > 0 {
		t.WriteString("\nWhere the CPU time goes for the goals not met (share of a CPU profile's samples by the part of the system running or calling the Go runtime; background GC and the scheduler apart):\n\n")
		for _, r := range profiled {
			fmt.Fprintf(&t, "- **%s**: %s\n", r.name, why[r.name])
		}
	}
	table = t.String()
	doc = "# Benchmarks\n\nWritten by `make bench` (`go run ./tools/bench/table`); do not edit by hand. On a shared machine absolute figures move with the load; ratios move less.\n\n" + table
	return doc, table
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0f k", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func rate(v float64, unit string) string { return num(v) + " " + unit }
func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v)
}

func ms(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.0f ms", v)
}

func atLeast(v, goal float64) string { return yes(!math.IsNaN(v) && v >= goal) }
func atMost(v, goal float64) string  { return yes(!math.IsNaN(v) && v <= goal) }
func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func indent(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}
