package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/services/demo/stack"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/room"
)

// Limits of the flags.
const (
	maxConcurrency = 4096
	maxDuration    = time.Hour
)

// How the consumer lag is watched.
const (
	lagEvery     = 250 * time.Millisecond
	drainTimeout = 2 * time.Minute
)

// rooms and members the load books (the services' demo data).
var (
	rooms   = []string{room.DoubleRoomID, room.SingleRoomID, room.TwinRoomID, room.SuiteRoomID}
	members = []string{member.ActiveMemberID, member.OtherActiveMemberID}
)

// config holds the flags.
type config struct {
	duration    time.Duration
	concurrency int
	target      string
	brokers     string
	embedded    bool
	sqliteSync  string
	postgres    string
	traceRatio  float64
	start       string
	verbose     bool
	cpuProfile  string
	memProfile  string

	startDay time.Time
}

func (c *config) bind(fs *flag.FlagSet) {
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send requests")
	fs.IntVar(&c.concurrency, "concurrency", 32, "requests in flight (workers sending back to back)")
	fs.StringVar(&c.target, "target", "", "base URL of a running reservation service, e.g. http://localhost:8080")
	fs.StringVar(&c.brokers, "brokers", "", "with -target: Kafka brokers (host:port,...) to read the consumer lag from")
	fs.BoolVar(&c.embedded, "embedded", false, "start the whole system in this process (embedded broker, SQLite) and load it")
	fs.StringVar(&c.sqliteSync, "sqlite-sync", "NORMAL", "with -embedded: SQLite synchronous mode, NORMAL (the default of runtime/sqldb: the WAL is fsynced at checkpoints) or FULL (every commit fsynced)")
	fs.StringVar(&c.postgres, "postgres", "", "with -embedded: put the four services' databases on this PostgreSQL (postgres://…), one schema each, dropped at the end")
	fs.Float64Var(&c.traceRatio, "trace-ratio", 0.1, "with -embedded: the share of traces the services record (parentbased_traceidratio; 1 records every span)")
	fs.StringVar(&c.start, "start", "", "first night booked, YYYY-MM-DD (default 2031-01-01 with -embedded, else a day in 2200–2299 picked at random so that reruns do not collide)")
	fs.BoolVar(&c.verbose, "v", false, "print the services' warnings (with -embedded) to stderr")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "with -embedded: write a CPU profile of the run (services included) to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "with -embedded: write an allocation profile of the run (services included; go tool pprof -sample_index=alloc_space) to this file")
}

func (c *config) check(nargs int) error {
	var errs []error
	if nargs > 0 {
		errs = append(errs, errors.New("unexpected arguments"))
	}
	if c.duration <= 0 || c.duration > maxDuration {
		errs = append(errs, fmt.Errorf("-duration %v: want more than 0 and at most %v", c.duration, maxDuration))
	}
	if c.concurrency < 1 || c.concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("-concurrency %d: want 1 to %d", c.concurrency, maxConcurrency))
	}
	switch {
	case c.embedded && c.target != "":
		errs = append(errs, errors.New("-embedded and -target exclude each other"))
	case !c.embedded && c.target == "":
		errs = append(errs, errors.New("give -embedded or -target URL"))
	case c.target != "":
		if u, err := url.Parse(c.target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("-target %q: want http(s)://host:port", c.target))
		}
	}
	if !c.embedded && c.cpuProfile != "" {
		errs = append(errs, errors.New("-cpuprofile goes with -embedded (the services run in this process)"))
	}
	if !c.embedded && c.memProfile != "" {
		errs = append(errs, errors.New("-memprofile goes with -embedded (the services run in this process)"))
	}
	if c.postgres != "" && (!c.embedded || !sqldb.IsPostgresDSN(c.postgres)) {
		errs = append(errs, errors.New("-postgres takes a postgres:// URL and goes with -embedded"))
	}
	if c.traceRatio < 0 || c.traceRatio > 1 {
		errs = append(errs, fmt.Errorf("-trace-ratio %v: want 0 to 1", c.traceRatio))
	}
	if c.embedded && c.brokers != "" {
		errs = append(errs, errors.New("-brokers goes with -target; -embedded knows its broker"))
	}
	c.sqliteSync = strings.ToUpper(c.sqliteSync)
	if c.sqliteSync != "FULL" && c.sqliteSync != "NORMAL" {
		errs = append(errs, fmt.Errorf("-sqlite-sync %q: want FULL or NORMAL", c.sqliteSync))
	}
	switch {
	case c.start != "":
		d, err := time.Parse(time.DateOnly, c.start)
		if err != nil {
			errs = append(errs, fmt.Errorf("-start: %w", err))
		}
		c.startDay = d
	case c.embedded:
		c.startDay = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		// A day in 2200–2299: far from what people book, and
		// random so that a second run on the same data does not hit
		// the nights of the first.
		c.startDay = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(uuid.New().ID()%36500))
	}
	return errors.Join(errs...)
}

// report is what a run measured.
type report struct {
	cfg       config
	system    string
	elapsed   time.Duration
	latencies []time.Duration // of the answered requests
	cpu       time.Duration   // user+sys CPU of this process during the load; 0 without -embedded
	status    map[int]int
	errors    int
	firstErr  error

	outboxLag   stack.Histogram
	outboxLagOK bool

	// events: with -embedded, the events each consumer handled during
	// the run (keiyaku_events_consumed_total) and the redeliveries its
	// idempotency skipped, from the consumers' /metrics.
	consumed   map[string]float64
	duplicates float64

	lagSamples []int64 // total consumer lag, every lagEvery
	lagErr     error
	drained    time.Duration // from the end of the load to no lag; 0 when not watched
}

// system is what loadgen talks to: a reservation service, and how to read
// its metrics and its consumers' lag.
type system struct {
	baseURL string
	metrics func(context.Context) (stack.Metrics, error)
	lag     func(context.Context) (int64, error) // nil: not watched
	// consumers scrapes the consuming services' /metrics; nil: not
	// reachable (-target).
	consumers func(context.Context) (map[string]stack.Metrics, error)
	close     func() error
	label     string
}

// load sets up the system, runs the load and measures.
func load(ctx context.Context, cfg config, stderr io.Writer) (*report, error) {
	sys, err := open(ctx, cfg, stderr)
	if err != nil {
		return nil, err
	}
	rep, err := measure(ctx, cfg, sys)
	if cerr := sys.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return rep, err
}

// open starts the embedded stack or reaches the target.
func open(ctx context.Context, cfg config, stderr io.Writer) (*system, error) {
	if !cfg.embedded {
		sys := &system{
			baseURL: strings.TrimSuffix(cfg.target, "/"),
			close:   func() error { return nil },
			label:   cfg.target,
		}
		hc := &http.Client{Timeout: 10 * time.Second}
		sys.metrics = func(ctx context.Context) (stack.Metrics, error) { return stack.Scrape(ctx, hc, sys.baseURL+"/metrics") }
		if cfg.brokers != "" {
			kafka := app.KafkaConfig{Client: events.ClientConfig{Brokers: strings.Split(cfg.brokers, ",")}}
			sys.lag = func(ctx context.Context) (int64, error) { return total(stack.Lag(ctx, kafka)) }
		}
		return sys, nil
	}
	dir, err := os.MkdirTemp("", "keiyaku-loadgen-")
	if err != nil {
		return nil, err
	}
	level := slog.LevelError + 1
	if cfg.verbose {
		level = slog.LevelWarn
	}
	opts := []stack.Option{
		stack.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))),
		stack.WithTraceSampler("parentbased_traceidratio", strconv.FormatFloat(cfg.traceRatio, 'g', -1, 64)),
	}
	if cfg.sqliteSync != "NORMAL" {
		opts = append(opts, stack.WithSQLitePragmas("synchronous("+cfg.sqliteSync+")"))
	}
	traces := fmt.Sprintf("%g%% of traces recorded", 100*cfg.traceRatio)
	label := fmt.Sprintf("embedded stack (4 services, embedded broker, SQLite synchronous=%s, %s)", cfg.sqliteSync, traces)
	dropSchemas := func() error { return nil }
	if cfg.postgres != "" {
		var dsns map[string]string
		dsns, dropSchemas, err = postgresSchemas(ctx, cfg.postgres)
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
		for svc, dsn := range dsns {
			opts = append(opts, stack.WithDatabaseURL(svc, dsn))
		}
		label = fmt.Sprintf("embedded stack (4 services, embedded broker, PostgreSQL, %s)", traces)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := stack.Start(sctx, dir, opts...)
	if err != nil {
		return nil, errors.Join(err, dropSchemas(), os.RemoveAll(dir))
	}
	return &system{
		baseURL: s.URL(stack.Reservation),
		metrics: func(ctx context.Context) (stack.Metrics, error) { return s.Metrics(ctx, stack.Reservation) },
		lag:     func(ctx context.Context) (int64, error) { return total(s.ConsumerLag(ctx)) },
		consumers: func(ctx context.Context) (map[string]stack.Metrics, error) {
			out := map[string]stack.Metrics{}
			for svc := range stack.ConsumerGroups {
				m, err := s.Metrics(ctx, svc)
				if err != nil {
					return nil, err
				}
				out[svc] = m
			}
			return out, nil
		},
		close: func() error {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			return errors.Join(s.Close(cctx), s.Err(), dropSchemas(), os.RemoveAll(dir))
		},
		label: label,
	}, nil
}

// postgresSchemas creates one schema per service on the PostgreSQL at
// dsn and returns each service's DSN (search_path set to its schema) and
// the function that drops them.
func postgresSchemas(ctx context.Context, dsn string) (map[string]string, func() error, error) {
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("-postgres: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("-postgres: %w", err), db.Close())
	}
	prefix := "loadgen_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	dsns := map[string]string{}
	var made []string
	drop := func() error {
		var errs []error
		for _, schema := range made {
			if _, err := db.ExecContext(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				errs = append(errs, fmt.Errorf("drop schema %s: %w", schema, err))
			}
		}
		return errors.Join(append(errs, db.Close())...)
	}
	for _, svc := range stack.Services {
		schema := prefix + "_" + svc
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("-postgres: create schema %s: %w", schema, err), drop())
		}
		made = append(made, schema)
		su := *u
		q := su.Query()
		q.Set("search_path", schema)
		su.RawQuery = q.Encode()
		dsns[svc] = su.String()
	}
	return dsns, drop, nil
}

func total(lags map[string]int64, err error) (int64, error) {
	var n int64
	for _, l := range lags {
		n += l
	}
	return n, err
}

// measure runs the workers for cfg.duration and watches the lag.
func measure(ctx context.Context, cfg config, sys *system) (*report, error) {
	rep := &report{cfg: cfg, system: sys.label, status: map[int]int{}}
	before, berr := sys.metrics(ctx)
	var consBefore map[string]stack.Metrics
	if sys.consumers != nil {
		consBefore, _ = sys.consumers(ctx)
	}

	transport := &http.Transport{MaxIdleConns: cfg.concurrency, MaxIdleConnsPerHost: cfg.concurrency, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	client, err := stack.NewClient(sys.baseURL, "", "", hc)
	if err != nil {
		return nil, err
	}

	lctx, stopLoad := context.WithTimeout(ctx, cfg.duration)
	defer stopLoad()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		wg      sync.WaitGroup
		watchWG sync.WaitGroup
	)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer func() {
		stopWatch()
		watchWG.Wait() // before rep is returned: the watcher writes into it
	}()
	if sys.lag != nil {
		watchWG.Go(func() { rep.watchLag(watchCtx, sys) })
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	start := time.Now()
	for range cfg.concurrency {
		wg.Go(func() {
			var lat []time.Duration
			status := map[int]int{}
			var nerr int
			var firstErr error
			for lctx.Err() == nil {
				i := next.Add(1) - 1
				in := cfg.startDay.AddDate(0, 0, int(i/int64(len(rooms))))
				res, err := client.Book(lctx, uuid.NewString(), stack.Booking{
					Member: members[i%int64(len(members))], Room: rooms[i%int64(len(rooms))],
					CheckIn: in, CheckOut: in.AddDate(0, 0, 1), Guests: 1,
				})
				if err != nil {
					if lctx.Err() != nil {
						break // cut by the end of the run
					}
					nerr++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, res.Elapsed)
				status[res.Status]++
			}
			mu.Lock()
			defer mu.Unlock()
			rep.latencies = append(rep.latencies, lat...)
			for s, n := range status {
				rep.status[s] += n
			}
			rep.errors += nerr
			if rep.firstErr == nil {
				rep.firstErr = firstErr
			}
		})
	}
	wg.Wait()
	rep.elapsed = time.Since(start)
	if cfg.memProfile != "" {
		if err := writeHeapProfile(cfg.memProfile); err != nil {
			return nil, err
		}
	}
	if cfg.embedded {
		rep.cpu = cpuTime() - cpu0
	}
	if len(rep.latencies) == 0 {
		return nil, fmt.Errorf("no request was answered: %v", rep.firstErr)
	}

	if sys.lag != nil {
		drainStart := time.Now()
		err := waitDrained(ctx, sys)
		stopWatch()
		watchWG.Wait()
		if err != nil {
			rep.lagErr = err
		} else {
			rep.drained = time.Since(drainStart)
		}
	}
	if consBefore != nil && rep.lagErr == nil {
		if consAfter, err := sys.consumers(ctx); err == nil {
			rep.consumed = map[string]float64{}
			for svc, m := range consAfter {
				c1, _ := m.Value("keiyaku_events_consumed_total")
				c0, _ := consBefore[svc].Value("keiyaku_events_consumed_total")
				d1, _ := m.Value("keiyaku_events_skipped_total", "reason", "duplicate")
				d0, _ := consBefore[svc].Value("keiyaku_events_skipped_total", "reason", "duplicate")
				rep.consumed[svc] = c1 - c0
				rep.duplicates += d1 - d0
			}
		}
	}
	if after, err := sys.metrics(ctx); err == nil && berr == nil {
		h1, ok1 := after.Histogram("keiyaku_outbox_lag_seconds")
		h0, ok0 := before.Histogram("keiyaku_outbox_lag_seconds")
		if ok1 {
			if ok0 {
				h1 = h1.Sub(h0)
			}
			rep.outboxLag, rep.outboxLagOK = h1, h1.Count > 0
		}
	}
	return rep, nil
}

// watchLag samples the consumer lag until ctx ends.
func (r *report) watchLag(ctx context.Context, sys *system) {
	tick := time.NewTicker(lagEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := sys.lag(qctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && r.lagErr == nil {
				r.lagErr = err
			}
			continue
		}
		r.lagSamples = append(r.lagSamples, n)
	}
}

// waitDrained waits until the outbox is empty and the consumers have
// committed everything.
func waitDrained(ctx context.Context, sys *system) error {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		m, err := sys.metrics(ctx)
		if err == nil {
			if p, ok := m.Value("keiyaku_outbox_pending"); ok && p == 0 {
				if n, err := sys.lag(ctx); err == nil && n == 0 {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consumers not caught up %v after the load", drainTimeout)
		case <-tick.C:
		}
	}
}

// write prints the report.
func (r *report) write(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	n := len(r.latencies)
	p("loadgen: %s, %d workers, POST /reservations against %s", r.cfg.duration, r.cfg.concurrency, r.system)
	codes := slices.Sorted(func(yield func(int) bool) {
		for c := range r.status {
			if !yield(c) {
				return
			}
		}
	})
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", c, r.status[c]))
	}
	if r.errors > 0 {
		parts = append(parts, fmt.Sprintf("no answer: %d (first: %v)", r.errors, r.firstErr))
	}
	p("requests      %d answered in %.2f s (%s)", n, r.elapsed.Seconds(), strings.Join(parts, ", "))
	p("throughput    %.0f req/s", float64(n)/r.elapsed.Seconds())
	slices.Sort(r.latencies)
	p("latency       p50 %s  p90 %s  p99 %s  max %s", msf(pct(r.latencies, 0.50)), msf(pct(r.latencies, 0.90)),
		msf(pct(r.latencies, 0.99)), msf(r.latencies[n-1]))
	if r.cpu > 0 {
		per := r.cpu / time.Duration(n)
		p("cpu           %s per request: %.2f s user+sys of this process (the whole stack and the load) over %.2f s; %d cores at that cost: ~%.0f req/s",
			msf(per), r.cpu.Seconds(), r.elapsed.Seconds(), runtime.NumCPU(), float64(runtime.NumCPU())*float64(time.Second)/float64(per))
	}
	if r.outboxLagOK {
		p50, _ := r.outboxLag.Quantile(0.50)
		p99, _ := r.outboxLag.Quantile(0.99)
		p("outbox lag    p50 ≤ %s  p99 ≤ %s  mean %s  (%d events; commit → broker ack, keiyaku_outbox_lag_seconds buckets)",
			secs(p50), secs(p99), msf(time.Duration(r.outboxLag.Sum/float64(r.outboxLag.Count)*float64(time.Second))), r.outboxLag.Count)
	} else {
		p("outbox lag    not measured (no keiyaku_outbox_lag_seconds at %s/metrics)", "the target")
	}
	switch {
	case len(r.lagSamples) > 0:
		s := slices.Clone(r.lagSamples)
		slices.Sort(s)
		drained := "not drained"
		if r.drained > 0 {
			drained = fmt.Sprintf("drained %s after the load stopped", msf(r.drained))
		}
		p("consumer lag  p50 %d  p99 %d  max %d events behind (3 groups summed, %d samples every %s); %s",
			s[len(s)/2], s[min(len(s)-1, int(math.Ceil(0.99*float64(len(s))))-1)], s[len(s)-1], len(s), lagEvery, drained)
	case r.lagErr != nil:
		p("consumer lag  not measured: %v", r.lagErr)
	default:
		p("consumer lag  not measured (give -brokers)")
	}
	if r.consumed != nil && r.outboxLagOK {
		// Every event the outbox sent (one per reservation, including
		// those whose request the end of the run cut off) must be
		// handled by each consumer exactly once.
		created := int(r.outboxLag.Count)
		var parts []string
		lost, twice := 0, 0
		for _, svc := range slices.Sorted(maps.Keys(r.consumed)) {
			n := int(r.consumed[svc])
			parts = append(parts, fmt.Sprintf("%s %d", svc, n))
			lost += max(created-n, 0)
			twice += max(n-created, 0)
		}
		p("events        %d sent by the outbox; handled by %s; %d lost, %d handled twice (%.0f redeliveries skipped as duplicates)",
			created, strings.Join(parts, ", "), lost, twice, r.duplicates)
	}
	if r.lagErr != nil && len(r.lagSamples) > 0 {
		p("              (some samples failed: %v)", r.lagErr)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeapProfile writes the allocations so far (the run's, with the
// start of the stack) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return errors.Join(fmt.Errorf("memory profile: %w", err), f.Close())
	}
	return f.Close()
}

// cpuTime returns the user and system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pct returns the q quantile of sorted (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func msf(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func secs(s float64) string {
	if math.IsInf(s, 1) {
		return "∞"
	}
	return msf(time.Duration(s * float64(time.Second)))
}
