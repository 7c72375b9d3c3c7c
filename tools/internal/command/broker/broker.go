// Package broker is the "keiyaku broker" command: the dev broker.
package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

const (
	addrFlagName    = "addr"
	dataDirFlagName = "data-dir"
	noSyncFlagName  = "no-sync"
	memoryFlagName  = "memory"
	enforceFlagName = "enforce"
)

// DefaultAddr is where the broker listens unless --addr says otherwise:
// Kafka's usual port on the loopback interface.
const DefaultAddr = "127.0.0.1:9092"

// DefaultDataDir is the folder, relative to the workspace root, the broker
// keeps its data in unless --data-dir says otherwise.
const DefaultDataDir = ".keiyaku/broker"

type flags struct {
	Addr    string
	DataDir string
	NoSync  bool
	Memory  bool
	Enforce bool
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Addr, addrFlagName, DefaultAddr, "host:port to listen on and advertise to clients; port 0 picks a free one")
	cmd.Flags().StringVar(&f.DataDir, dataDirFlagName, "", "folder to keep topics, records and group offsets in (default "+DefaultDataDir+" under the workspace root)")
	cmd.Flags().BoolVar(&f.NoSync, noSyncFlagName, false, "do not fsync each produced batch before acknowledging it (faster; a killed broker still loses nothing, a crashed machine may)")
	cmd.Flags().BoolVar(&f.Memory, memoryFlagName, false, "keep everything in memory; nothing survives the process")
	cmd.Flags().BoolVar(&f.Enforce, enforceFlagName, false, "refuse a record produced to a contract topic whose value is not single-object Avro of one of the topic's message schemas, or that lacks the CloudEvents headers")
}

// NewCommand returns the broker command. configFile points at the
// --config value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Run a Kafka-protocol dev broker with every topic the contracts declare",
		Long: `Run a single-node Kafka-protocol broker (franz-go's kfake) for development:
services, kcat and any Kafka client connect to it as to Kafka.

At start it creates every channel of the workspace's AsyncAPI documents as a
topic (partitions from the channel's Kafka binding, at least 1), the
dead-letter topic "<topic>.<group>.dlq" of every consumer group that receives
from it (the groupId of a receive operation's Kafka binding), and the
compacted schema topic; other topics are created on first use. It prints
the KAFKA_BROKERS line to use, then runs until SIGINT or SIGTERM.

Data is kept in --data-dir: topics when created, each produced batch before
it is acknowledged (fsynced unless --no-sync), offset commits when made. A
broker killed with SIGKILL and started again on the same folder has its
topics, acknowledged records and committed offsets.

With --enforce, a record produced to a topic of the contracts must be an event
of them: CloudEvents headers (ce_specversion 1.0, ce_id, ce_type, ce_source,
content-type application/avro) and a value in Avro single-object encoding
whose fingerprint is one of the channel's message schemas in the workspace.
Anything else is refused with INVALID_RECORD and the reason, so a producer
that breaks the contract fails at once instead of poisoning consumers.
Confluent-framed values cannot be checked without the registry and are
refused too; other topics are not checked.

It is not a production Kafka: one node, no replication.

Exit codes: 0 stopped by a signal, 1 usage, load or listen error.`,
		Example: `  keiyaku broker
  keiyaku broker --addr 127.0.0.1:19092 --data-dir /tmp/kafka
  eval "$(keiyaku broker --addr 127.0.0.1:0 | head -1)"   # KAFKA_BROKERS=…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), *configFile, f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, stdout, stderr io.Writer, configFile string, f *flags) error {
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	topics, schemas, err := ContractTopics(ctx, cfg)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []embedded.Option{embedded.WithAddr(f.Addr), embedded.WithTopics(topics...), embedded.WithLogger(log)}
	if f.Enforce {
		opts = append(opts, embedded.WithProduceCheck(enforce(schemas)))
	}
	dir := ""
	if !f.Memory {
		dir = f.DataDir
		if dir == "" {
			dir = filepath.Join(cfg.Root, filepath.FromSlash(DefaultDataDir))
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("broker: data folder: %w", err)
		}
		opts = append(opts, embedded.WithDataDir(dir))
		if !f.NoSync {
			opts = append(opts, embedded.WithSyncWrites())
		}
	}
	b, err := embedded.Start(ctx, opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "KAFKA_BROKERS=%s\n", strings.Join(b.Addrs(), ","))
	for _, t := range topics {
		fmt.Fprintf(stdout, "topic %s (%d partitions)\n", t.Name, t.Partitions)
	}
	if f.Enforce {
		fmt.Fprintln(stdout, "enforcing the contracts on their topics")
	}
	if dir != "" {
		fmt.Fprintf(stdout, "data in %s\n", dir)
	} else {
		fmt.Fprintln(stdout, "data in memory only")
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return nil
}

// ContractTopics returns the topics the AsyncAPI documents of cfg's
// modules declare — each channel, with the partitions of its Kafka binding
// (at least 1) — and the dead-letter topic of each consumer group that
// receives from one, sorted by name; and per channel topic the
// fingerprints of its messages' Avro schemas. A document that does not
// load is an error naming it.
func ContractTopics(ctx context.Context, cfg *config.Config) ([]embedded.Topic, map[string]map[uint64]bool, error) {
	parts := map[string]int32{}
	schemas := map[string]map[uint64]bool{}
	var errs []error
	for _, m := range cfg.Modules {
		src := m.AsyncAPIDoc(cfg.Root)
		if src == "" {
			continue
		}
		doc, err := asyncapi.Load(ctx, cfg.Root, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ch := range doc.Channels {
			n := int32(1)
			if ch.Kafka != nil && ch.Kafka.Partitions > 1 {
				n = int32(ch.Kafka.Partitions)
			}
			parts[ch.Address] = max(parts[ch.Address], n)
			for _, m := range ch.Messages {
				if m.Payload == nil || m.Payload.Avro == nil {
					continue
				}
				if schemas[ch.Address] == nil {
					schemas[ch.Address] = map[uint64]bool{}
				}
				schemas[ch.Address][m.Payload.Avro.Fingerprint] = true
			}
		}
		for _, op := range doc.Operations {
			if op.Action != asyncapi.Receive || op.Channel == nil {
				continue
			}
			if g := op.Kafka.Group(); g != "" {
				dlq := events.DeadLetterTopic(op.Channel.Address, g)
				parts[dlq] = max(parts[dlq], 1)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	topics := make([]embedded.Topic, 0, len(parts))
	for _, name := range slices.Sorted(maps.Keys(parts)) {
		topics = append(topics, embedded.Topic{Name: name, Partitions: parts[name]})
	}
	return topics, schemas, nil
}

// enforce returns the produce check of --enforce: on the topics of
// schemas, a record must carry the CloudEvents headers and a single-object
// Avro value whose writer schema is one of the topic's.
func enforce(schemas map[string]map[uint64]bool) embedded.ProduceCheck {
	return func(rec *kgo.Record) error {
		fps, ok := schemas[rec.Topic]
		if !ok {
			return nil
		}
		if _, err := events.ParseEnvelope(rec); err != nil {
			return fmt.Errorf("contract of %s: %w", rec.Topic, err)
		}
		fp, _, err := avro.SingleObjectFingerprint(rec.Value)
		if err != nil {
			return fmt.Errorf("contract of %s: value is not Avro single-object encoded: %w", rec.Topic, err)
		}
		if v := binary.LittleEndian.Uint64(fp[:]); !fps[v] {
			return fmt.Errorf("contract of %s: writer schema %#016x is none of the topic's message schemas", rec.Topic, v)
		}
		return nil
	}
}
