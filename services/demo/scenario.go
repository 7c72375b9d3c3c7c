package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/resilience"
	"github.com/keiyaku/keiyaku/services/demo/stack"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/room"
)

// Timeouts of the scenario's waits. The whole demo takes about 15 s.
const (
	startTimeout   = 30 * time.Second
	settleTimeout  = 15 * time.Second
	stopTimeout    = 15 * time.Second
	recoverTimeout = 20 * time.Second
	poll           = 20 * time.Millisecond
	retryEvery     = 250 * time.Millisecond // a client retrying a refused request
)

// Log messages of the reservation service the narration points at.
const (
	msgFallback = "member service unavailable: using its last good answer"
	msgBreaker  = "circuit breaker state changed"
)

// Who and what the scenario books (the demo data of the member and room services).
var (
	hanako = member.ActiveMemberID
	taro   = member.OtherActiveMemberID
	kenji  = member.SuspendedMemberID
	names  = map[string]string{
		member.ActiveMemberID:      "Hanako Yamada",
		member.OtherActiveMemberID: "Taro Suzuki",
		member.SuspendedMemberID:   "Kenji Sato (suspended)",
		room.DoubleRoomID:          "room 0412 (double)",
		room.SingleRoomID:          "room 0101 (single)",
		room.TwinRoomID:            "room 0305 (twin)",
		room.SuiteRoomID:           "room 1201 (suite)",
	}
)

// notificationItem is one e-mail the notification service sent.
type notificationItem = notificationv1.Notification

// demo is one run of the scenario.
type demo struct {
	out    *narrator
	dir    string
	book   *logbook
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	stack  *stack.Stack
	client *stack.Client
	addrs  map[string]string // host:port → service, to name call targets

	first booked // the reservation whose trace ends the demo
}

// booked is a reservation request the demo made, and its answer.
type booked struct {
	key   string
	req   stack.Booking
	res   stack.Result
	trace trace.TraceID
}

func newDemo(w io.Writer, dir string, book *logbook) *demo {
	rec := tracetest.NewSpanRecorder()
	res := sdkresource.NewSchemaless(keyServiceName.String("demo"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	return &demo{
		out:  &narrator{w: w, start: time.Now()},
		dir:  dir,
		book: book,
		rec:  rec, tp: tp, tracer: tp.Tracer("github.com/keiyaku/keiyaku/services/demo"),
		addrs: map[string]string{},
	}
}

// play runs the scenario and always stops what it started.
func (d *demo) play(ctx context.Context) (retErr error) {
	d.out.title("Keiyaku demo: the hotel-reservation reference system on one machine")
	d.out.say("data folder %s (SQLite files, broker data)", d.dir)
	defer func() {
		if d.stack != nil && retErr != nil {
			// Stop everything before reporting; the happy path
			// stops in its own step.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			defer cancel()
			retErr = errors.Join(retErr, d.stack.Close(cctx))
		}
		_ = d.tp.Shutdown(context.WithoutCancel(ctx))
	}()
	steps := []struct {
		title string
		run   func(context.Context) error
	}{
		{"Start the broker and the four services", d.start},
		{"Book rooms: synchronous checks, then an event", d.reserve},
		{"The event reaches the three consumers", d.consume},
		{"Member service stopped: the last good answer decides", d.memberDown},
		{"Room service stopped: fail fast, breaker opens, then recovers", d.roomDown},
		{"Broker stopped during writes: the outbox keeps every event", d.brokerDown},
		{"One reservation's trace across the four services", d.timeline},
		{"Shut down", d.shutdown},
	}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.out.section(i+1, s.title)
		if err := s.run(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
		if err := d.stackErr(); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	d.out.say("")
	d.out.say("every claim above was checked; total %s", time.Since(d.out.start).Round(10*time.Millisecond))
	return nil
}

// stackErr reports a service that stopped on its own.
func (d *demo) stackErr() error {
	if d.stack == nil {
		return nil
	}
	return d.stack.Err()
}

func (d *demo) start(ctx context.Context) error {
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	s, err := stack.Start(sctx, d.dir, stack.WithLogger(slog.New(d.book.handler())), stack.WithSpanProcessor(d.rec))
	if err != nil {
		return err
	}
	d.stack = s
	tel := app.Telemetry{TracerProvider: d.tp}
	if d.client, err = s.Client(&http.Client{Transport: tel.Transport(nil), Timeout: 10 * time.Second}); err != nil {
		return err
	}
	var topics []string
	for _, t := range s.Topics() {
		topics = append(topics, fmt.Sprintf("%s (%d partitions)", t.Name, t.Partitions))
	}
	d.out.row("broker", s.BrokerAddr(), "embedded Kafka protocol (kfake), topics "+strings.Join(topics, ", "))
	for _, name := range stack.Services {
		d.addrs[s.Addr(name)] = name
		d.out.row(name, s.URL(name), "own SQLite file "+strings.TrimPrefix(s.DatabaseURL(name), d.dir+"/")+", own tracer (service.name="+name+")")
	}
	d.out.say("all ready in %s; every call below goes over TCP", since(t0))
	return nil
}

// reserve books two stays and shows two refusals, each with the calls the
// reservation service made.
func (d *demo) reserve(ctx context.Context) error {
	in, out := day(2030, 4, 1), day(2030, 4, 4)
	free, err := d.client.Available(ctx, room.DoubleRoomID, in, out)
	if err != nil {
		return err
	}
	if !free {
		return fmt.Errorf("%s is taken on a fresh database", names[room.DoubleRoomID])
	}
	d.out.say("room 0412 is free from %s to %s (GET /rooms/{roomId}/availability)", in.Format(time.DateOnly), out.Format(time.DateOnly))
	tries := []struct {
		b    stack.Booking
		want int
	}{
		{stack.Booking{Member: hanako, Room: room.DoubleRoomID, CheckIn: in, CheckOut: out, Guests: 2}, http.StatusCreated},
		{stack.Booking{Member: hanako, Room: room.TwinRoomID, CheckIn: day(2030, 4, 10), CheckOut: day(2030, 4, 12), Guests: 1}, http.StatusCreated},
		{stack.Booking{Member: kenji, Room: room.SuiteRoomID, CheckIn: in, CheckOut: out, Guests: 2}, http.StatusUnprocessableEntity},
		{stack.Booking{Member: hanako, Room: room.DoubleRoomID, CheckIn: day(2030, 4, 3), CheckOut: day(2030, 4, 5), Guests: 2}, http.StatusConflict},
	}
	for i, t := range tries {
		b, err := d.reserveOne(ctx, uuid.NewString(), t.b, t.want)
		if err != nil {
			return err
		}
		if i == 0 {
			d.first = b
		}
		d.calls(b)
	}
	return nil
}

// reserveOne books b with key under a span of the demo's own, prints the
// answer and checks its status.
func (d *demo) reserveOne(ctx context.Context, key string, b stack.Booking, want int) (booked, error) {
	ctx, span := d.tracer.Start(ctx, "book "+names[b.Member]+", "+names[b.Room])
	res, err := d.client.Book(ctx, key, b)
	span.End()
	if err != nil {
		return booked{}, err
	}
	d.out.booking(b, res)
	if res.Status != want {
		return booked{}, fmt.Errorf("POST /reservations for %s, %s: status %d (%s), want %d", names[b.Member], names[b.Room], res.Status, res.Problem, want)
	}
	return booked{key: key, req: b, res: res, trace: span.SpanContext().TraceID()}, nil
}

// calls prints the synchronous calls the reservation service made for b:
// its client spans, each with the route the neighbour served.
func (d *demo) calls(b booked) {
	spans := traceSpans(d.rec, b.trace)
	server := map[trace.SpanID]sdktrace.ReadOnlySpan{} // client span id → neighbour's server span
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			server[s.Parent().SpanID()] = s
		}
	}
	slices.SortFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	for _, s := range spans {
		if serviceOf(s) != stack.Reservation || s.SpanKind() != trace.SpanKindClient {
			continue
		}
		what := label(s, d.addrs)
		if srv, ok := server[s.SpanContext().SpanID()]; ok {
			what = fmt.Sprintf("%-30s %s", srv.Name(), statusOf(s))
		}
		target := "?"
		for _, kv := range s.Attributes() {
			if kv.Key == keyURLFull {
				for addr, name := range d.addrs {
					if strings.Contains(kv.Value.AsString(), "//"+addr+"/") {
						target = name
					}
				}
			}
		}
		d.out.detail("reservation → %-12s %-36s %9s", target, what, ms(s.EndTime().Sub(s.StartTime())))
	}
}

func statusOf(s sdktrace.ReadOnlySpan) string {
	for _, kv := range s.Attributes() {
		if kv.Key == keyStatusCode {
			return fmt.Sprint(kv.Value.AsInt64())
		}
	}
	return "no answer"
}

// consume follows the events of the two reservations of step 2 to the
// outbox, the broker and the three consumers.
func (d *demo) consume(ctx context.Context) error {
	took, err := d.settle(ctx)
	if err != nil {
		return err
	}
	d.out.say("outbox → relay → broker → consumers: outbox empty and every consumer group at the end of %s (%s)", stack.EventsTopic, took)
	// Member keeps the history; it has no API for it, so its
	// consumer span in the reservation's trace shows the handler ran
	// and committed.
	for _, name := range []string{stack.Member, stack.Room, stack.Notification} {
		sp, err := d.consumerSpan(d.first.trace, name)
		if err != nil {
			return err
		}
		what := map[string]string{
			stack.Member:       "added the stay to Hanako's history",
			stack.Room:         "confirmed the hold of room 0412",
			stack.Notification: "sent the confirmation e-mail",
		}[name]
		d.out.row(name, sp.Name(), fmt.Sprintf("%s (%s, group %s)", what, ms(sp.EndTime().Sub(sp.StartTime())), stack.ConsumerGroups[name]))
	}
	free, err := d.client.Available(ctx, room.DoubleRoomID, d.first.req.CheckIn, d.first.req.CheckOut)
	if err != nil {
		return err
	}
	if free {
		return errors.New("room 0412 is still free after its reservation")
	}
	d.out.say("room 0412 from %s to %s is now taken (GET /rooms/{roomId}/availability → available: false)",
		d.first.req.CheckIn.Format(time.DateOnly), d.first.req.CheckOut.Format(time.DateOnly))
	ns, err := d.client.Notifications(ctx, hanako)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ns, func(n notificationItem) bool { return n.ReservationId.String() == d.first.res.ID })
	if i < 0 {
		return fmt.Errorf("no notification for reservation %s: %+v", d.first.res.ID, ns)
	}
	d.out.say("Hanako's notifications (GET /notifications?memberId=…): %d, latest %q", len(ns), ns[i].Subject)
	return nil
}

// consumerSpan returns the consumer span service recorded in trace id.
func (d *demo) consumerSpan(id trace.TraceID, service string) (sdktrace.ReadOnlySpan, error) {
	for _, s := range traceSpans(d.rec, id) {
		if serviceOf(s) == service && s.SpanKind() == trace.SpanKindConsumer {
			if s.Status().Code == codes.Error {
				return nil, fmt.Errorf("%s handled the event with an error: %s", service, s.Status().Description)
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("%s has not handled the event of trace %s", service, id)
}

// settle waits until the outbox is empty and every consumer group has
// committed the end of the topic, and returns how long it took.
func (d *demo) settle(ctx context.Context) (string, error) {
	t0 := time.Now()
	err := d.waitFor(ctx, settleTimeout, "the events to reach every consumer", func(ctx context.Context) (bool, error) {
		n, err := d.pending(ctx)
		if err != nil || n > 0 {
			return false, nil
		}
		lag, err := d.lag(ctx)
		if err != nil {
			return false, nil
		}
		return lag == 0, nil
	})
	return since(t0), err
}

// pending scrapes the reservation service's keiyaku_outbox_pending gauge.
func (d *demo) pending(ctx context.Context) (int, error) {
	m, err := d.stack.Metrics(ctx, stack.Reservation)
	if err != nil {
		return 0, err
	}
	v, ok := m.Value("keiyaku_outbox_pending")
	if !ok {
		return 0, errors.New("the reservation service exports no keiyaku_outbox_pending")
	}
	return int(v), nil
}

// lag returns the records the three consumer groups have not committed.
func (d *demo) lag(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	lags, err := d.stack.ConsumerLag(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range lags {
		n += l
	}
	return n, nil
}

// memberDown stops the member service: a member asked before is served
// from the last good answer, one never asked is refused; after the
// restart the member consumer catches up.
func (d *demo) memberDown(ctx context.Context) error {
	if err := d.stop(ctx, stack.Member); err != nil {
		return err
	}
	mark := d.book.mark()
	before, err := d.stack.Metrics(ctx, stack.Reservation)
	if err != nil {
		return err
	}
	b, err := d.reserveOne(ctx, uuid.NewString(), stack.Booking{
		Member: hanako, Room: room.SuiteRoomID, CheckIn: day(2030, 5, 1), CheckOut: day(2030, 5, 3), Guests: 2,
	}, http.StatusCreated)
	if err != nil {
		return err
	}
	after, err := d.stack.Metrics(ctx, stack.Reservation)
	if err != nil {
		return err
	}
	used := d.book.since(mark, stack.Reservation, msgFallback)
	if len(used) == 0 {
		return errors.New("the reservation went through but the reservation service did not say it used the last good answer")
	}
	a0, _ := before.Value("keiyaku_client_attempts_total", "target", stack.Member)
	a1, _ := after.Value("keiyaku_client_attempts_total", "target", stack.Member)
	d.out.detail("reservation → member: %d attempts, connection refused each time; the client served its last good answer", int(a1-a0))
	d.out.detail("for Hanako, marked %s: %s (Age: %ss): active, so the stay is booked",
		resilience.FallbackHeader, resilience.FallbackLastGood, used[0].attrs["age_seconds"])
	if _, err := d.reserveOne(ctx, uuid.NewString(), stack.Booking{
		Member: taro, Room: room.SuiteRoomID, CheckIn: day(2030, 5, 10), CheckOut: day(2030, 5, 12), Guests: 2,
	}, http.StatusServiceUnavailable); err != nil {
		return err
	}
	d.out.detail("Taro was never looked up: no last good answer, so 503 rather than a guess")
	if opened := d.breaker(mark, stack.Member); len(opened) > 0 {
		d.out.detail("circuit breaker of member: %s → %s (5 failures in a row); it lets a probe through after 10 s",
			opened[0].attrs["from"], opened[0].attrs["to"])
	}

	t0 := time.Now()
	if err := d.restart(ctx, stack.Member); err != nil {
		return err
	}
	if err := d.waitFor(ctx, settleTimeout, "member to handle the event it missed", func(context.Context) (bool, error) {
		_, err := d.consumerSpan(b.trace, stack.Member)
		return err == nil, nil
	}); err != nil {
		return err
	}
	d.out.say("member rejoined its consumer group and handled the event published while it was down, %s after its restart", since(t0))
	return nil
}

// roomDown stops the room service: requests fail fast with 503, the
// breaker opens after three failures and later requests never reach the
// network; after the restart the breaker's probe closes it, and a request
// retried with its Idempotency-Key makes one reservation.
func (d *demo) roomDown(ctx context.Context) error {
	before, err := d.stack.Metrics(ctx, stack.Reservation)
	if err != nil {
		return err
	}
	attempts0, _ := before.Value("keiyaku_client_attempts_total", "target", stack.Room)
	if err := d.stop(ctx, stack.Room); err != nil {
		return err
	}
	mark := d.book.mark()
	const n = 8
	var (
		first      booked
		openedAt   = -1
		slowest    time.Duration
		afterOpen  time.Duration
		breakerMsg []entry
		atOpen     float64 // attempts on room when the breaker opened
	)
	for i := range n {
		b, err := d.reserveOne(ctx, uuid.NewString(), stack.Booking{
			Member: hanako, Room: room.SingleRoomID, CheckIn: day(2030, 6, 1+2*i), CheckOut: day(2030, 6, 2+2*i), Guests: 1,
		}, http.StatusServiceUnavailable)
		if err != nil {
			return err
		}
		if i == 0 {
			first = b
		}
		slowest = max(slowest, b.res.Elapsed)
		if openedAt >= 0 {
			afterOpen = max(afterOpen, b.res.Elapsed)
		}
		breakerMsg = d.breaker(mark, stack.Room)
		if openedAt < 0 && slices.ContainsFunc(breakerMsg, func(e entry) bool { return e.attrs["to"] == "open" }) {
			openedAt = i
			m, err := d.stack.Metrics(ctx, stack.Reservation)
			if err != nil {
				return err
			}
			atOpen, _ = m.Value("keiyaku_client_attempts_total", "target", stack.Room)
			d.out.detail("circuit breaker of room: closed → open (3 failures in a row); the next requests are refused without a call")
		}
	}
	if openedAt < 0 || openedAt == n-1 {
		return fmt.Errorf("the breaker of room did not open in time (state changes: %d)", len(breakerMsg))
	}
	after, err := d.stack.Metrics(ctx, stack.Reservation)
	if err != nil {
		return err
	}
	attempts1, _ := after.Value("keiyaku_client_attempts_total", "target", stack.Room)
	// Refused without a call: what makes an open breaker fast is checked
	// by counting calls, not by a clock a loaded machine can stretch.
	if open := int(attempts1 - atOpen); open != 0 {
		return fmt.Errorf("with the breaker open, %d attempts still reached room", open)
	}
	calls := int(attempts1 - attempts0)
	if calls > n {
		return fmt.Errorf("%d attempts on room for %d requests: retries multiplied the load", calls, n)
	}
	d.out.say("%d requests, all 503 in at most %s; after the breaker opened none reached room (at most %s each); attempts on room: %d (not %d)",
		n, ms(slowest), ms(afterOpen), calls, 2*n)

	t0 := time.Now()
	if err := d.restart(ctx, stack.Room); err != nil {
		return err
	}
	var got booked
	refused := 0
	err = d.waitEvery(ctx, recoverTimeout, retryEvery, "the room service to be used again", func(ctx context.Context) (bool, error) {
		res, err := d.client.Book(ctx, first.key, first.req)
		if err != nil {
			return false, err
		}
		if res.Status == http.StatusServiceUnavailable {
			refused++
			return false, nil
		}
		if res.Status != http.StatusCreated {
			return false, fmt.Errorf("retry of the first refused request: %d (%s)", res.Status, res.Problem)
		}
		got = booked{key: first.key, req: first.req, res: res}
		return true, nil
	})
	if err != nil {
		return err
	}
	changes := d.breaker(mark, stack.Room)
	var path []string
	for _, e := range changes {
		if len(path) == 0 {
			path = append(path, e.attrs["from"])
		}
		path = append(path, e.attrs["to"])
	}
	d.out.say("room restarted; while the breaker stayed open %d retries got a fast 503; then its probe went through", refused)
	d.out.say("breaker of room: %s; the first refused request, sent again with its Idempotency-Key, booked in %s",
		strings.Join(path, " → "), since(t0))
	d.out.booking(got.req, got.res)
	again, err := d.client.Book(ctx, first.key, first.req)
	if err != nil {
		return err
	}
	d.out.booking(first.req, again)
	if again.Status != http.StatusCreated || again.ID != got.res.ID || again.Header.Get("Idempotent-Replayed") != "true" {
		return fmt.Errorf("same key again: %d, id %s, Idempotent-Replayed %q; want 201, id %s, true",
			again.Status, again.ID, again.Header.Get("Idempotent-Replayed"), got.res.ID)
	}
	d.out.detail("same key, same answer: Idempotent-Replayed: true, reservation %s — one reservation, not two", short(got.res.ID))
	if path[len(path)-1] != "closed" {
		return fmt.Errorf("breaker of room ended %s, want closed", path[len(path)-1])
	}
	return nil
}

// breaker returns the state changes of the reservation service's circuit
// breaker of target logged after mark.
func (d *demo) breaker(mark int, target string) []entry {
	var out []entry
	for _, e := range d.book.since(mark, stack.Reservation, msgBreaker) {
		if e.attrs["target"] == target {
			out = append(out, e)
		}
	}
	return out
}

// brokerDown stops the broker while reservations are made: they are
// accepted, their events wait in the outbox, and all of them reach every
// consumer after the broker comes back.
func (d *demo) brokerDown(ctx context.Context) error {
	if _, err := d.settle(ctx); err != nil {
		return err
	}
	d.stack.StopBroker()
	if err := refused(ctx, d.stack.BrokerAddr()); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	d.out.say("broker stopped: %s refuses connections; its topics, records and offsets are saved in kafka/", d.stack.BrokerAddr())
	before, err := d.client.Notifications(ctx, hanako)
	if err != nil {
		return err
	}
	const n = 5
	var made []booked
	for i := range n {
		b, err := d.reserveOne(ctx, uuid.NewString(), stack.Booking{
			Member: hanako, Room: room.TwinRoomID, CheckIn: day(2030, 7, 1+2*i), CheckOut: day(2030, 7, 2+2*i), Guests: 2,
		}, http.StatusCreated)
		if err != nil {
			return err
		}
		p, err := d.pending(ctx)
		if err != nil {
			return err
		}
		if p != i+1 {
			return fmt.Errorf("outbox pending %d after %d reservations with the broker down, want %d", p, i+1, i+1)
		}
		d.out.detail("outbox pending: %d", p)
		made = append(made, b)
	}
	t0 := time.Now()
	if err := d.stack.RestartBroker(ctx); err != nil {
		return err
	}
	d.out.say("broker restarted on %s from its data folder", d.stack.BrokerAddr())
	var seen []int
	err = d.waitFor(ctx, recoverTimeout, "the outbox to empty", func(ctx context.Context) (bool, error) {
		p, err := d.pending(ctx)
		if err != nil {
			return false, err
		}
		if len(seen) == 0 || seen[len(seen)-1] != p {
			seen = append(seen, p)
		}
		return p == 0, nil
	})
	if err != nil {
		return err
	}
	sent := since(t0)
	took, err := d.settle(ctx)
	if err != nil {
		return err
	}
	var trail []string
	for _, p := range seen {
		trail = append(trail, fmt.Sprint(p))
	}
	d.out.say("outbox pending %s: sent %s after the restart; consumers caught up %s later", strings.Join(trail, " → "), sent, took)
	ns, err := d.client.Notifications(ctx, hanako)
	if err != nil {
		return err
	}
	for _, b := range made {
		if !slices.ContainsFunc(ns, func(n notificationItem) bool { return n.ReservationId.String() == b.res.ID }) {
			return fmt.Errorf("reservation %s made while the broker was down has no notification", b.res.ID)
		}
		free, err := d.client.Available(ctx, b.req.Room, b.req.CheckIn, b.req.CheckOut)
		if err != nil {
			return err
		}
		if free {
			return fmt.Errorf("reservation %s made while the broker was down: its room is still free", b.res.ID)
		}
		if _, err := d.consumerSpan(b.trace, stack.Member); err != nil {
			return err
		}
	}
	if len(ns) != len(before)+n {
		return fmt.Errorf("Hanako has %d notifications, want %d + %d (one per reservation)", len(ns), len(before), n)
	}
	d.out.say("all %d events delivered once: %d new e-mails to Hanako, %d stays taken in room 0305, %d stays added to her history",
		n, len(ns)-len(before), n, n)
	return nil
}

// timeline prints the spans of the first reservation's trace.
func (d *demo) timeline(context.Context) error {
	spans := traceSpans(d.rec, d.first.trace)
	services := map[string]bool{}
	for _, s := range spans {
		services[serviceOf(s)] = true
	}
	for _, name := range stack.Services {
		if !services[name] {
			return fmt.Errorf("trace %s has no span of %s", d.first.trace, name)
		}
	}
	d.out.say("trace %s: %d spans, one trace id from the demo's request to every consumer", d.first.trace, len(spans))
	d.out.say("")
	d.out.say("%9s %10s  %-13s %s", "start", "duration", "service", "span")
	t0 := earliest(spans)
	for _, r := range timeline(spans) {
		d.out.say("%9s %10s  %-13s %s%s", ms(r.span.StartTime().Sub(t0)), ms(r.span.EndTime().Sub(r.span.StartTime())),
			r.service, r.tree(), label(r.span, d.addrs))
	}
	return nil
}

// shutdown stops everything and checks that no listener is left.
func (d *demo) shutdown(ctx context.Context) error {
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	s := d.stack
	d.stack = nil
	if err := s.Close(cctx); err != nil {
		return err
	}
	addrs := []string{s.BrokerAddr()}
	for _, name := range stack.Services {
		addrs = append(addrs, s.Addr(name))
	}
	for _, a := range addrs {
		if err := refused(ctx, a); err != nil {
			return err
		}
	}
	d.out.say("services and broker stopped in %s; no listener left on %s", since(t0), strings.Join(addrs, ", "))
	return nil
}

// stop stops a service and checks that its port is closed.
func (d *demo) stop(ctx context.Context, name string) error {
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if err := d.stack.Stop(cctx, name); err != nil {
		return err
	}
	if err := refused(ctx, d.stack.Addr(name)); err != nil {
		return err
	}
	d.out.say("%s stopped in %s: %s refuses connections", name, since(t0), d.stack.Addr(name))
	return nil
}

// restart starts a service again on its address and database.
func (d *demo) restart(ctx context.Context, name string) error {
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := d.stack.Restart(cctx, name); err != nil {
		return err
	}
	d.out.say("%s restarted in %s on the same address and database", name, since(t0))
	return nil
}

// waitFor calls cond every poll until it reports true, and fails when
// timeout passes first or cond fails.
func (d *demo) waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	return d.waitEvery(ctx, timeout, poll, what, cond)
}

// waitEvery is waitFor calling cond every interval.
func (d *demo) waitEvery(ctx context.Context, timeout, interval time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: not done after %s", what, timeout)
		case <-tick.C:
		}
	}
}

// refused checks that nothing serves on addr any more: a connection is
// refused, or — while the stack keeps a stopped part's port bound for its
// restart — reset at once, before any byte is read.
func refused(ctx context.Context, addr string) error {
	var dialer net.Dialer
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetReadDeadline(deadline)
	var buf [1]byte
	if _, err := c.Read(buf[:]); errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return fmt.Errorf("%s still accepts connections", addr)
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func since(t time.Time) string { return ms(time.Since(t)) }

// short returns the first block of a UUID.
func short(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i] + "…"
	}
	return id
}
