// Package dlq is the "keiyaku dlq" command: inspect and re-drive
// dead-letter topics.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
)

const (
	brokersFlagName = "brokers"
	groupFlagName   = "group"
)

// DefaultReplayGroup is the consumer group "keiyaku dlq replay" commits
// its progress in, so a second run replays only what was dead-lettered
// since.
const DefaultReplayGroup = "keiyaku.dlq-replay"

// envBrokers is read for the default of --brokers.
const envBrokers = "KAFKA_BROKERS"

// timeout bounds reaching the brokers and each produce.
const timeout = 30 * time.Second

type flags struct {
	Brokers string
	Group   string
}

func (f *flags) bind(cmd *cobra.Command, replay bool) {
	def := os.Getenv(envBrokers)
	if def == "" {
		def = "127.0.0.1:9092"
	}
	cmd.Flags().StringVar(&f.Brokers, brokersFlagName, def, "seed brokers, comma-separated (default $KAFKA_BROKERS or 127.0.0.1:9092)")
	if replay {
		cmd.Flags().StringVar(&f.Group, groupFlagName, DefaultReplayGroup, "consumer group that remembers what was replayed")
	}
}

// NewCommand returns the dlq command with its inspect and replay
// subcommands.
func NewCommand(name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:          name,
		Short:        "Inspect and re-drive dead-letter topics",
		SilenceUsage: true,
		Long: `A consumer copies a record it cannot process (unreadable, or its handler said
the error is permanent) to its group's dead-letter topic,
"<topic>.<group>.dlq", with headers naming the group, the error, the number
of attempts, the first failure's time and the original topic, partition and
offset. "inspect" lists them; "replay" sends them back, after a fix, to their
original topic.`,
	}
	cmd.AddCommand(newInspect("inspect"), newReplay("replay"))
	return cmd
}

func newInspect(name string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " DLQ_TOPIC",
		Short: "List the records of a dead-letter topic",
		Long: `List every record of DLQ_TOPIC, one line each: its offset, the event id and
type, the original topic/partition@offset, the group, attempts, first failure
and the error. It reads up to the end of the topic as it was at start and
commits nothing.

Exit codes: 0 ok, 1 usage or Kafka error.`,
		Example: `  keiyaku dlq inspect hotel.reservation.events.v1.notification.reservation-notices.dlq`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspect(cmd.Context(), cmd.OutOrStdout(), f, args[0])
		},
	}
	f.bind(cmd, false)
	return cmd
}

func newReplay(name string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " DLQ_TOPIC",
		Short: "Send the records of a dead-letter topic back to their original topic",
		Long: `Produce every record of DLQ_TOPIC not replayed yet to its original topic
(the keiyaku_dlq_topic header) with its key, value and headers — the same
ce_id, so consumers that deduplicate by event id skip what they had
processed — and without the dead-letter headers. Every consumer group of
the original topic receives the record again.

Progress is committed in the consumer group --group after each record is
acknowledged, so a second run replays only records dead-lettered since, and
a run stopped midway resumes; at worst a record is sent twice, which the
consumers' deduplication absorbs. The run stops at the end of the topic as
it was at start, or on SIGINT/SIGTERM.

Exit codes: 0 ok, 1 usage or Kafka error.`,
		Example: `  keiyaku dlq replay hotel.reservation.events.v1.notification.reservation-notices.dlq`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return replay(ctx, cmd.OutOrStdout(), f, args[0])
		},
	}
	f.bind(cmd, true)
	return cmd
}

// read calls fn for each record of topic from cl's start position up to
// the end offsets at the time of the call. With a group, partitions whose
// committed offset is at their end already are not waited for.
func read(ctx context.Context, cl *kgo.Client, topic, group string, fn func(*kgo.Record) error) error {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	ends, err := kadm.NewClient(cl).ListEndOffsets(lctx, topic)
	cancel()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	done := map[int32]int64{}
	if group != "" {
		lctx, cancel := context.WithTimeout(ctx, timeout)
		offs, err := kadm.NewClient(cl).FetchOffsets(lctx, group)
		cancel()
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) { // not found: nothing replayed yet
			return fmt.Errorf("offsets of group %s: %w", group, err)
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil {
				done[o.Partition] = o.At
			}
		})
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 && done[o.Partition] < o.Offset {
			left[o.Partition] = o.Offset
		}
	})
	for len(left) > 0 {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", t, p, err))
			}
		})
		if ferr != nil {
			return ferr
		}
		for _, r := range fs.Records() {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				continue
			}
			if err := fn(r); err != nil {
				return err
			}
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		}
		if fs.NumRecords() == 0 && pctx.Err() != nil {
			// Nothing came within the timeout: the rest was replayed
			// already (a group past it) or removed by retention.
			return nil
		}
	}
	return nil
}

func newClient(f *flags, opts ...kgo.Opt) (*kgo.Client, error) {
	cfg := events.ClientConfig{Brokers: strings.Split(f.Brokers, ",")}
	copts, err := cfg.Options()
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", brokersFlagName, err)
	}
	return kgo.NewClient(append(copts, opts...)...)
}

func inspect(ctx context.Context, w io.Writer, f *flags, topic string) error {
	cl, err := newClient(f, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID("keiyaku-dlq"))
	if err != nil {
		return err
	}
	defer cl.Close()
	n := 0
	err = read(ctx, cl, topic, "", func(r *kgo.Record) error {
		n++
		d, perr := events.ParseDeadLetter(r)
		if perr != nil {
			fmt.Fprintf(w, "%d@%d  not a dead letter: %v\n", r.Partition, r.Offset, perr)
			return nil
		}
		first := "-"
		if !d.FirstError.IsZero() {
			first = d.FirstError.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d@%d  id=%s type=%s  from %s/%d@%d  group=%s attempts=%d first_error=%s  error: %s\n",
			r.Partition, r.Offset, orDash(d.ID), orDash(d.Type), d.Topic, d.Partition, d.Offset, orDash(d.Group), d.Attempts, first, d.Error)
		return nil
	})
	fmt.Fprintf(w, "%d records in %s\n", n, topic)
	return err
}

func replay(ctx context.Context, w io.Writer, f *flags, topic string) error {
	cl, err := newClient(f,
		kgo.ConsumerGroup(f.Group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID("keiyaku-dlq"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	n, skipped := 0, 0
	err = read(ctx, cl, topic, f.Group, func(r *kgo.Record) error {
		d, perr := events.ParseDeadLetter(r)
		if perr != nil {
			fmt.Fprintf(w, "skipped %d@%d: %v\n", r.Partition, r.Offset, perr)
			skipped++
		} else {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := cl.ProduceSync(pctx, d.Replay()).FirstErr()
			cancel()
			if err != nil {
				return fmt.Errorf("replay %d@%d to %s: %w", r.Partition, r.Offset, d.Topic, err)
			}
			fmt.Fprintf(w, "replayed %d@%d id=%s to %s\n", r.Partition, r.Offset, orDash(d.ID), d.Topic)
			n++
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := cl.CommitRecords(cctx, r); err != nil {
			return fmt.Errorf("commit progress in group %s: %w", f.Group, err)
		}
		return nil
	})
	fmt.Fprintf(w, "%d records replayed from %s, %d skipped\n", n, topic, skipped)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
