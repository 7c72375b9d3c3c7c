package events_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
)

// TestGroupConfigOptions pins the defaults and the checks of GroupConfig:
// zero values keep Kafka's defaults, a heartbeat above a third of the
// session timeout and negative durations are refused, and the instance and
// client ids reach the client.
func TestGroupConfigOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     events.GroupConfig
		session time.Duration
		beat    time.Duration
		wantErr string
	}{
		{"defaults", events.GroupConfig{}, events.DefaultSessionTimeout, events.DefaultHeartbeatInterval, ""},
		{"short session, derived heartbeat", events.GroupConfig{SessionTimeout: 6 * time.Second}, 6 * time.Second, 2 * time.Second, ""},
		{"both", events.GroupConfig{SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, InstanceID: "m-0", ClientID: "member"}, 6 * time.Second, time.Second, ""},
		{"heartbeat too slow", events.GroupConfig{SessionTimeout: 6 * time.Second, HeartbeatInterval: 3 * time.Second}, 0, 0, "above a third"},
		{"negative", events.GroupConfig{SessionTimeout: -time.Second}, 0, 0, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts, err := tt.cfg.Options()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Options() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			must(t, err)
			cl, err := kgo.NewClient(append(opts, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))...)
			must(t, err)
			defer cl.Close()
			if got := cl.OptValue(kgo.SessionTimeout); got != tt.session {
				t.Errorf("session timeout %v, want %v", got, tt.session)
			}
			if got := cl.OptValue(kgo.HeartbeatInterval); got != tt.beat {
				t.Errorf("heartbeat %v, want %v", got, tt.beat)
			}
			if id := fmt.Sprint(cl.OptValues(kgo.InstanceID)...); tt.cfg.InstanceID != "" && !strings.Contains(id, tt.cfg.InstanceID) {
				t.Errorf("instance id %v, want %s", id, tt.cfg.InstanceID)
			}
			if tt.cfg.ClientID != "" && cl.OptValue(kgo.ClientID) != tt.cfg.ClientID {
				t.Errorf("client id %v, want %s", cl.OptValue(kgo.ClientID), tt.cfg.ClientID)
			}
		})
	}
}

// TestParseDeadLetter pins that a record without the dead-letter headers,
// or with a malformed one, is refused with an error naming the header, and
// that Replay drops the dead-letter headers only.
func TestParseDeadLetter(t *testing.T) {
	t.Parallel()
	if _, err := events.ParseDeadLetter(&kgo.Record{Topic: "x.dlq"}); err == nil || !strings.Contains(err.Error(), events.HeaderDLQTopic) {
		t.Errorf("no headers: %v, want an error naming %s", err, events.HeaderDLQTopic)
	}
	bad := &kgo.Record{Headers: []kgo.RecordHeader{{Key: events.HeaderDLQTopic, Value: []byte("x")}, {Key: events.HeaderDLQOffset, Value: []byte("ten")}}}
	if _, err := events.ParseDeadLetter(bad); err == nil || !strings.Contains(err.Error(), events.HeaderDLQOffset) {
		t.Errorf("bad offset: %v, want an error naming %s", err, events.HeaderDLQOffset)
	}
	good := &kgo.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: events.HeaderID, Value: []byte("id-1")},
		{Key: events.HeaderDLQTopic, Value: []byte("orders")},
		{Key: events.HeaderDLQPartition, Value: []byte("3")},
		{Key: events.HeaderDLQOffset, Value: []byte("42")},
		{Key: events.HeaderDLQGroup, Value: []byte("g")},
		{Key: events.HeaderDLQAttempts, Value: []byte("2")},
		{Key: events.HeaderDLQFirstError, Value: []byte("2026-12-06T07:42:11.668Z")},
	}}
	d, err := events.ParseDeadLetter(good)
	must(t, err)
	if d.ID != "id-1" || d.Topic != "orders" || d.Partition != 3 || d.Offset != 42 || d.Group != "g" || d.Attempts != 2 || d.FirstError.IsZero() {
		t.Errorf("parsed %+v", d)
	}
	r := d.Replay()
	if r.Topic != "orders" || string(r.Key) != "k" || string(r.Value) != "v" || len(r.Headers) != 1 || r.Headers[0].Key != events.HeaderID {
		t.Errorf("replay record %+v, want topic orders, key/value kept, only ce_id left", r)
	}
}
