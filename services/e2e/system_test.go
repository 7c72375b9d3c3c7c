package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
	"github.com/keiyaku/keiyaku/services/demo/stack"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/notification"
	"github.com/keiyaku/keiyaku/services/room"
)

// full runs the reliability tests at the sizes the issue asks for.
var full = flag.Bool("e2e.full", false, "run the reliability tests at full size (R1: 10,000 events, R2: 1,000 reservations)")

// envChild, when set to a service name, makes the test binary run that
// service as its main would (TestMain), configured by the usual
// environment (LISTEN_ADDR, DATABASE_URL, KAFKA_BROKERS, …): the process
// R1 kills.
const envChild = "KEIYAKU_E2E_CHILD"

// Bounds of the waits.
const (
	startTimeout  = time.Minute
	settleTimeout = 2 * time.Minute
)

func TestMain(m *testing.M) {
	if name := os.Getenv(envChild); name != "" {
		os.Exit(childMain(name))
	}
	os.Exit(m.Run())
}

// childMain runs the service name until SIGINT/SIGTERM (or SIGKILL) as its
// cmd/ main does.
func childMain(name string) int {
	if name != stack.Notification {
		fmt.Fprintf(os.Stderr, "e2e child: cannot run %q\n", name)
		return 2
	}
	ctx := context.Background()
	return app.Main(ctx, os.Getenv, os.Stderr, app.Process{
		Name:        notification.Name,
		DefaultAddr: notification.DefaultAddr,
		Start: func(ctx context.Context, env app.Env, tel app.Telemetry) (app.Runner, error) {
			// The test binds the port once and hands it over as fd 3
			// (stack.ListenerFile), so a restarted child never races
			// another socket for it.
			ln, err := net.FileListener(os.NewFile(3, "listener"))
			if err != nil {
				return nil, fmt.Errorf("inherited listener: %w", err)
			}
			return notification.New(ctx, notification.Config{
				Listener: ln, DatabaseURL: env.DatabaseURL, Kafka: env.Kafka,
			}, notification.WithTelemetry(tel))
		},
	})
}

// backends returns SQLite, and PostgreSQL when KEIYAKU_TEST_POSTGRES_DSN
// is set (its subtests skip otherwise).
func backends() []sqldbtest.Backend {
	return sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN))
}

// system is the reference system running for one test, and what the test
// uses to drive and audit it.
type system struct {
	*stack.Stack
	client *stack.Client
	logs   string // the services' warnings and errors
}

// start runs the system for the length of t on backend b: SQLite files in
// t's folder, or one PostgreSQL schema per service. The services' warnings
// go to a file that is printed if t fails.
func start(t *testing.T, b sqldbtest.Backend, opts ...stack.Option) *system {
	t.Helper()
	dir := t.TempDir()
	if b.Name == string(sqldb.Postgres) {
		for _, svc := range stack.Services {
			opts = append(opts, stack.WithDatabaseURL(svc, b.DSN(t)))
		}
	}
	logPath := filepath.Join(dir, "services.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	s, err := stack.Start(ctx, dir, append([]stack.Option{stack.WithLogger(logger)}, opts...)...)
	if err != nil {
		_ = logFile.Close()
		t.Fatalf("start the system: %v", err)
	}
	sys := &system{Stack: s, logs: logPath}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			t.Errorf("close the system: %v", err)
		}
		_ = logFile.Close()
		if t.Failed() {
			dumpTail(t, logPath, 40)
		}
	})
	if sys.client, err = s.Client(&http.Client{Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	return sys
}

// dumpTail logs the last n lines of the file at path.
func dumpTail(t *testing.T, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) > 0 {
		t.Logf("last lines of %s:\n%s", filepath.Base(path), strings.Join(lines, "\n"))
	}
}

// audit opens service's database for the test to read what the service
// did. Reading another service's database is what services must never do;
// a test auditing the outcome may.
func (s *system) audit(t *testing.T, service string) *sqldb.DB {
	t.Helper()
	return sqldbtest.Open(t, s.DatabaseURL(service))
}

// count runs a COUNT query on db.
func count(t *testing.T, db *sqldb.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), db.Rebind(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// settle waits until the reservation service's outbox is empty and every
// consumer group has committed the end of the events topic.
func (s *system) settle(t *testing.T, timeout time.Duration) {
	t.Helper()
	apptest.Wait(t, timeout, "the outbox to empty and the consumers to catch up", func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		m, err := s.Metrics(ctx, stack.Reservation)
		if err != nil {
			return false, nil
		}
		if p, ok := m.Value("keiyaku_outbox_pending"); !ok || p > 0 {
			return false, nil
		}
		lags, err := s.ConsumerLag(ctx)
		if err != nil {
			return false, nil
		}
		for _, l := range lags {
			if l > 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// rooms are the demo rooms; slot i of a test books rooms[i%4] for one
// night, day i/4 after its first day, so that no two slots collide.
var rooms = []string{room.DoubleRoomID, room.SingleRoomID, room.TwinRoomID, room.SuiteRoomID}

// slot returns the booking of slot i from first.
func slot(first time.Time, i int) stack.Booking {
	in := first.AddDate(0, 0, i/len(rooms))
	members := []string{member.ActiveMemberID, member.OtherActiveMemberID}
	return stack.Booking{Member: members[i%2], Room: rooms[i%len(rooms)], CheckIn: in, CheckOut: in.AddDate(0, 0, 1), Guests: 1}
}

// bookMany books slots 0..n-1 from first with workers requests in flight
// and returns the reservation ids; every booking must answer 201. after,
// if set, is called after each booking with the number made so far.
func (s *system) bookMany(t *testing.T, first time.Time, n, workers int, after func(done int)) []string {
	t.Helper()
	ids := make([]string, n)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		mu         sync.Mutex
		errs       []error
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || t.Context().Err() != nil {
					return
				}
				res, err := s.client.Book(t.Context(), uuid.NewString(), slot(first, i))
				if err == nil && res.Status != http.StatusCreated {
					err = fmt.Errorf("slot %d: %d %s", i, res.Status, res.Problem)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				ids[i] = res.ID
				d := done.Add(1)
				if after != nil {
					after(int(d))
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("booking %d reservations: %v", n, err)
	}
	return ids
}

// assertOnce checks, in every consumer's database, that each of ids had
// its side effect exactly once: one confirmation e-mail, one stay in the
// member's history, one confirmed hold; and that each consumer recorded
// exactly one processed event per reservation.
func (s *system) assertOnce(t *testing.T, ids []string) {
	t.Helper()
	n := len(ids)
	notif, mem, rm := s.audit(t, stack.Notification), s.audit(t, stack.Member), s.audit(t, stack.Room)
	checks := []struct {
		what  string
		db    *sqldb.DB
		query string
	}{
		{"confirmation e-mails", notif, `SELECT COUNT(*) FROM notifications WHERE kind = 'reservation-confirmed'`},
		{"reservations with an e-mail", notif, `SELECT COUNT(DISTINCT reservation_id) FROM notifications WHERE kind = 'reservation-confirmed'`},
		{"notification's processed events", notif, `SELECT COUNT(*) FROM keiyaku_processed_events`},
		{"stays in members' histories", mem, `SELECT COUNT(*) FROM member_reservations WHERE status = 'confirmed' AND booked_at IS NOT NULL`},
		{"member's processed events", mem, `SELECT COUNT(*) FROM keiyaku_processed_events`},
		{"confirmed holds", rm, `SELECT COUNT(*) FROM holds WHERE status = 'confirmed'`},
		{"reservations with a confirmed hold", rm, `SELECT COUNT(DISTINCT reservation_id) FROM holds WHERE status = 'confirmed'`},
		{"room's processed events", rm, `SELECT COUNT(*) FROM keiyaku_processed_events`},
	}
	for _, c := range checks {
		if got := count(t, c.db, c.query); got != n {
			t.Errorf("%s: %d, want %d (one per reservation)", c.what, got, n)
		}
	}
	// Every reservation made is among them (not n others).
	for _, id := range []string{ids[0], ids[n/2], ids[n-1]} {
		if got := count(t, notif, `SELECT COUNT(*) FROM notifications WHERE reservation_id = ?`, id); got != 1 {
			t.Errorf("reservation %s: %d e-mails, want 1", id, got)
		}
	}
}

// child is a service running in a process of its own (the test binary in
// child mode), which the test can kill.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

// startChild runs service in a new process on its address and database
// in s, and waits until it answers /readyz.
func (s *system) startChild(t *testing.T, service string, log io.Writer) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		envChild+"="+service,
		app.EnvDatabaseURL+"="+s.DatabaseURL(service),
		app.EnvKafkaBrokers+"="+s.BrokerAddr(),
		app.EnvLogLevel+"=warn",
		"OTEL_TRACES_SAMPLER=always_off",
		"OTEL_EXPORTER_OTLP_ENDPOINT=",
	)
	cmd.Stdout, cmd.Stderr = log, log
	lnFile, err := s.ListenerFile(service)
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{lnFile} // fd 3 in the child
	err = cmd.Start()
	_ = lnFile.Close()
	if err != nil {
		t.Fatalf("start %s: %v", service, err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { c.kill() })
	apptest.Wait(t, startTimeout, service+" to be ready", func() (bool, error) {
		select {
		case err := <-c.done:
			c.done <- err
			return false, fmt.Errorf("%s exited: %v", service, err)
		default:
		}
		resp, err := http.Get(s.URL(service) + "/readyz")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return c
}

// kill sends SIGKILL and waits for the process to be gone. It is
// idempotent.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	err := <-c.done
	c.done <- err
}

// evict removes every member of group from the group, as the broker does
// once a dead member's session times out (45 s by default): the test
// does it at once so that five kills fit in its time. It returns how many
// members it removed.
func evict(ctx context.Context, kafka app.KafkaConfig, group string) (int, error) {
	opts, err := kafka.Client.Options()
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("describe %s: %w", group, err)
	}
	g, ok := described[group]
	if !ok || len(g.Members) == 0 {
		return 0, nil
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	for _, m := range g.Members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.MemberID
		req.Members = append(req.Members, lm)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("leave group %s: %w", group, err)
	}
	for _, m := range resp.Members {
		if m.ErrorCode != 0 {
			return 0, fmt.Errorf("leave group %s: member %s: error %d", group, m.MemberID, m.ErrorCode)
		}
	}
	return len(g.Members), nil
}

// committed returns the sum of the offsets group committed on the events
// topic.
func committed(ctx context.Context, kafka app.KafkaConfig, group string) (int64, error) {
	opts, err := kafka.Client.Options()
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == stack.EventsTopic && o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return sum, nil
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
