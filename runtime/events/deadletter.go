package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DeadLetter is a record read from a dead-letter topic, with what the
// consumer that gave up on it wrote in its headers.
type DeadLetter struct {
	// Record is the dead-letter record as read.
	Record *kgo.Record
	// ID and Type are the event's ce_id and ce_type, empty for a record
	// that was not an event.
	ID, Type string
	// Topic, Partition and Offset locate the original record.
	Topic     string
	Partition int32
	Offset    int64
	// Group is the consumer group that gave up; empty for records
	// written before groups were named.
	Group string
	// Attempts is how many times the handler ran.
	Attempts int
	// FirstError is when the first attempt failed; zero if unknown.
	FirstError time.Time
	// Error is the last error.
	Error string
}

// ParseDeadLetter reads the dead-letter headers of rec. It returns an
// error when the original topic is missing or a number is malformed:
// such a record was not written by a [Consumer].
func ParseDeadLetter(rec *kgo.Record) (DeadLetter, error) {
	d := DeadLetter{Record: rec}
	var errs []string
	for _, h := range rec.Headers {
		v := string(h.Value)
		var err error
		switch h.Key {
		case HeaderID:
			d.ID = v
		case HeaderType:
			d.Type = v
		case HeaderDLQTopic:
			d.Topic = v
		case HeaderDLQPartition:
			var p int64
			p, err = strconv.ParseInt(v, 10, 32)
			d.Partition = int32(p)
		case HeaderDLQOffset:
			d.Offset, err = strconv.ParseInt(v, 10, 64)
		case HeaderDLQGroup:
			d.Group = v
		case HeaderDLQAttempts:
			d.Attempts, err = strconv.Atoi(v)
		case HeaderDLQFirstError:
			d.FirstError, err = time.Parse(time.RFC3339Nano, v)
		case HeaderDLQError:
			d.Error = v
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("header %s: %v", h.Key, err))
		}
	}
	if d.Topic == "" {
		errs = append(errs, "no "+HeaderDLQTopic+" header")
	}
	if len(errs) > 0 {
		return d, fmt.Errorf("dead letter %s/%d@%d: %s", rec.Topic, rec.Partition, rec.Offset, strings.Join(errs, "; "))
	}
	return d, nil
}

// Replay returns the record to produce to send the event again to its
// original topic: the original key, value and headers (ce_id included, so
// consumers that deduplicate by ce_id skip what they had processed), without
// the dead-letter headers. Every consumer group of that topic receives it.
func (d DeadLetter) Replay() *kgo.Record {
	r := &kgo.Record{Topic: d.Topic, Key: d.Record.Key, Value: d.Record.Value}
	for _, h := range d.Record.Headers {
		if !strings.HasPrefix(h.Key, "keiyaku_dlq_") {
			r.Headers = append(r.Headers, h)
		}
	}
	return r
}
