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
	"strings"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
)

const (
	addrFlagName       = "addr"
	singlePortFlagName = "single-port"
	seedFlagName       = "seed"
)

// DefaultAddr is where a mock listens unless --addr says otherwise: a
// port the kernel picks on the loopback interface, printed at start.
const DefaultAddr = "127.0.0.1:0"

type flags struct {
	Addrs      []string
	SinglePort bool
	Seed       uint64
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.Addrs, addrFlagName, nil, "listen address: HOST:PORT for every mock (with one module or --single-port), or MODULE=HOST:PORT for one; repeatable; default "+DefaultAddr+" (a free port, printed)")
	cmd.Flags().BoolVar(&f.SinglePort, singlePortFlagName, false, "serve every module on one port, each below the path prefix /<module name> (e.g. /member/v1/members/{id})")
	cmd.Flags().Uint64Var(&f.Seed, seedFlagName, 1, "seed of generated data: the same seed and request give the same response")
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
	mounts, err := plan(contracts, f)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var tasks []app.Task
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
func plan(contracts []mock.Contract, f *flags) ([]mount, error) {
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
		out = append(out, mount{names: []string{c.Name()}, addr: addr, handler: h})
	}
	for name := range named {
		return nil, fmt.Errorf("--%s %s=…: no module %q is mocked", addrFlagName, name, name)
	}
	return out, nil
}
