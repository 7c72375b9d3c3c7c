// Package mock is the "keiyaku mock" command: serve the OpenAPI contracts
// of the workspace's modules and locked dependencies from the contracts
// alone, so that a consumer team can build against a provider that is not
// running.
package mock

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
)

const (
	addrFlagName       = "addr"
	singlePortFlagName = "single-port"
	seedFlagName       = "seed"
	brokersFlagName    = "brokers"
	rateFlagName       = "rate"
)

// DefaultAddr is where a mock listens unless --addr says otherwise: a
// port the kernel picks on the loopback interface, printed at start.
const DefaultAddr = "127.0.0.1:0"

type flags struct {
	Addrs      []string
	SinglePort bool
	Seed       uint64
	Brokers    string
	Rate       time.Duration
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.Addrs, addrFlagName, nil, "listen address: HOST:PORT for every mock (with one module or --single-port), or MODULE=HOST:PORT for one; repeatable; default "+DefaultAddr+" (a free port, printed)")
	cmd.Flags().BoolVar(&f.SinglePort, singlePortFlagName, false, "serve every module on one port, each below the path prefix /<module name> (e.g. /member/v1/members/{id})")
	cmd.Flags().Uint64Var(&f.Seed, seedFlagName, 1, "seed of generated data: the same seed and request give the same response")
	cmd.Flags().StringVar(&f.Brokers, brokersFlagName, "", "comma-separated Kafka brokers to publish the modules' events to; default: an embedded broker started on a free loopback port")
	cmd.Flags().DurationVar(&f.Rate, rateFlagName, 0, "publish one event of every sent message at this interval (e.g. 1s); default 0: only on POST "+mock.EventsPath+"{messageName}")
}

// NewCommand returns the mock command. configFile points at the --config
// value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " [MODULE|DEP ...]",
		Short: "Serve the OpenAPI contracts of modules and locked deps as mock providers",
		Long: `Serve each selected OpenAPI module (a module path, a module name such as
member/v1, a service name or a dep name; none: every module with operations)
from its contract alone, each on its own port (or all on one with
--single-port, below /<module name>).

Every request is validated with the middleware the generated servers use, so
a bad request gets the problem+json a real provider sends. A valid request is
answered with the lowest documented 2xx: its example, else data generated
from the schema (deterministic for --seed). The request header Prefer steers
the answer:

  Prefer: code=503          a documented status (an undocumented one is
                            answered as a problem+json, to try fallbacks)
  Prefer: example=NAME      a named example of the response
  Prefer: dynamic=true      generated data even where there is an example

Events: for every AsyncAPI send operation of the selected modules, the mock
publishes events — generated from the Avro schema, with the record key,
CloudEvents headers, trace context and Avro single-object encoding of the
generated publishers — to an embedded broker it starts (or --brokers):
on POST /_keiyaku/events/{messageName} on any mock port (an optional JSON
body in the Avro JSON encoding overrides payload fields) and, with --rate,
periodically. It prints the broker, the topics and the KAFKA_BROKERS line.

Dependencies are served from their locked copy (keiyaku deps update first).
The mock runs until interrupted.`,
		Example: `  keiyaku mock member
  keiyaku mock member room --single-port --addr 127.0.0.1:8090
  curl -H 'Prefer: code=503' http://127.0.0.1:PORT/members/3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile, args, f)
		},
	}
	f.Bind(cmd)
	return cmd
}

// mount is one listener and what it serves.
type mount struct {
	names   []string
	addr    string
	handler http.Handler
}

func run(ctx context.Context, w io.Writer, configFile string, args []string, f *flags) error {
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	modules, err := mock.Select(cfg, args)
	if err != nil {
		return err
	}
	contracts, err := mock.Load(ctx, cfg, modules, len(args) == 0)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var tasks []app.Task
	msgs, err := mock.SendMessages(ctx, cfg, modules)
	if err != nil {
		return err
	}
	var eventsHandler http.Handler
	if len(msgs) > 0 {
		pub, brokers, stop, err := startEvents(ctx, msgs, f, logger)
		if err != nil {
			return err
		}
		defer stop()
		eventsHandler = pub.Handler()
		fmt.Fprintf(w, "broker\t%s\n", brokers)
		for _, m := range msgs {
			fmt.Fprintf(w, "topic\t%s\t%s (%s)\n", m.Topic, m.Name, m.Module)
		}
		fmt.Fprintf(w, "KAFKA_BROKERS=%s\n", brokers)
		if f.Rate > 0 {
			tasks = append(tasks, app.Task{Name: "events", Run: func(ctx context.Context) error { return pub.Run(ctx, f.Rate) }})
		}
	}
	mounts, err := plan(contracts, f, eventsHandler)
	if err != nil {
		return err
	}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	for _, m := range mounts {
		ln, err := net.Listen("tcp", m.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("mock %s: listen on %s: %w", strings.Join(m.names, ", "), m.addr, err)
		}
		lns = append(lns, ln)
		srv, err := httpserver.New(m.handler, httpserver.WithLogger(logger))
		if err != nil {
			closeAll()
			return err
		}
		base := "http://" + ln.Addr().String()
		for _, c := range m.names {
			if f.SinglePort {
				fmt.Fprintf(w, "%s\t%s/%s\n", c, base, c)
			} else {
				fmt.Fprintf(w, "%s\t%s\n", c, base)
			}
		}
		tasks = append(tasks, app.Task{Name: strings.Join(m.names, ","), Run: func(ctx context.Context) error { return srv.Run(ctx, ln) }})
	}
	fmt.Fprintln(w, "mock ready; interrupt to stop")
	return app.Run(ctx, tasks...)
}

// plan decides which listener serves which contract.
func plan(contracts []mock.Contract, f *flags, eventsHandler http.Handler) ([]mount, error) {
	named := map[string]string{}
	var bare []string
	for _, a := range f.Addrs {
		if name, addr, ok := strings.Cut(a, "="); ok {
			named[strings.TrimSuffix(name, "/")] = addr
		} else {
			bare = append(bare, a)
		}
	}
	if len(bare) > 1 || (len(bare) == 1 && len(named) > 0) {
		return nil, fmt.Errorf("--%s: give one HOST:PORT, or MODULE=HOST:PORT per module", addrFlagName)
	}
	if len(bare) == 1 && len(contracts) > 1 && !f.SinglePort {
		return nil, fmt.Errorf("--%s %s: %d modules need one port each; use MODULE=HOST:PORT per module or --%s", addrFlagName, bare[0], len(contracts), singlePortFlagName)
	}
	opts := []mock.Option{mock.WithSeed(f.Seed)}
	if f.SinglePort {
		if len(named) > 0 {
			return nil, fmt.Errorf("--%s: with --%s give one HOST:PORT", addrFlagName, singlePortFlagName)
		}
		mux := http.NewServeMux()
		var names []string
		for _, c := range contracts {
			h, err := mock.NewHandler(c.Doc, opts...)
			if err != nil {
				return nil, fmt.Errorf("mock %s: %w", c.Name(), err)
			}
			prefix := "/" + c.Name()
			mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
			names = append(names, c.Name())
		}
		if eventsHandler != nil {
			mux.Handle(mock.EventsPath, eventsHandler)
		}
		addr := DefaultAddr
		if len(bare) == 1 {
			addr = bare[0]
		}
		return []mount{{names: names, addr: addr, handler: mux}}, nil
	}
	var out []mount
	for _, c := range contracts {
		h, err := mock.NewHandler(c.Doc, opts...)
		if err != nil {
			return nil, fmt.Errorf("mock %s: %w", c.Name(), err)
		}
		addr := DefaultAddr
		if len(bare) == 1 {
			addr = bare[0]
		}
		for _, key := range []string{c.Name(), c.Module.Path, c.Module.Service, c.Module.Dep} {
			if a, ok := named[key]; ok && key != "" {
				addr = a
				delete(named, key)
			}
		}
		if eventsHandler != nil {
			mux := http.NewServeMux()
			mux.Handle("/", h)
			mux.Handle(mock.EventsPath, eventsHandler)
			h = mux
		}
		out = append(out, mount{names: []string{c.Name()}, addr: addr, handler: h})
	}
	for name := range named {
		return nil, fmt.Errorf("--%s %s=…: no module %q is mocked", addrFlagName, name, name)
	}
	return out, nil
}

// startEvents starts the embedded broker (unless --brokers) with the
// topics of msgs and returns the publisher, the brokers to print and how
// to stop it all.
func startEvents(ctx context.Context, msgs []mock.EventMessage, f *flags, logger *slog.Logger) (*mock.Publisher, string, func(), error) {
	var stops []func()
	stop := func() {
		for _, s := range slices.Backward(stops) {
			s()
		}
	}
	brokers := f.Brokers
	if brokers == "" {
		var topics []embedded.Topic
		for _, m := range msgs {
			if !slices.ContainsFunc(topics, func(t embedded.Topic) bool { return t.Name == m.Topic }) {
				topics = append(topics, embedded.Topic{Name: m.Topic, Partitions: int32(max(m.Partitions, 1))})
			}
		}
		b, err := embedded.Start(ctx, embedded.WithTopics(topics...), embedded.WithLogger(logger))
		if err != nil {
			return nil, "", nil, fmt.Errorf("start the embedded broker: %w", err)
		}
		stops = append(stops, b.Close)
		brokers = strings.Join(b.Addrs(), ",")
	}
	opts, err := events.ClientConfig{Brokers: strings.Split(brokers, ",")}.Options()
	if err != nil {
		stop()
		return nil, "", nil, fmt.Errorf("--%s: %w", brokersFlagName, err)
	}
	client, err := kgo.NewClient(append(opts, events.ProducerClientOptions()...)...)
	if err != nil {
		stop()
		return nil, "", nil, fmt.Errorf("--%s: %w", brokersFlagName, err)
	}
	stops = append(stops, client.Close)
	store, err := codec.NewTopicStore(client)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	so, err := codec.NewSingleObject(store)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	pub, err := mock.NewPublisher(msgs, func(source string) (*events.Producer, error) {
		return events.NewProducer(client, so, source, events.WithPropagator(propagation.TraceContext{}), events.WithLogger(logger))
	}, f.Seed, logger)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	return pub, brokers, stop, nil
}
