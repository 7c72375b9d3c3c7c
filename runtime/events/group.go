package events

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of [GroupConfig]: franz-go's, which are Kafka's.
const (
	// DefaultSessionTimeout is how long the group waits for a member that
	// stopped heartbeating (killed, partitioned) before it gives the
	// member's partitions to the others.
	DefaultSessionTimeout = 45 * time.Second
	// DefaultHeartbeatInterval is how often a member heartbeats.
	DefaultHeartbeatInterval = 3 * time.Second
)

// GroupConfig is how a consuming client takes part in its consumer group:
// how fast a member that died without leaving (SIGKILL, lost host) loses
// its partitions, and static membership. The zero value keeps the
// defaults. main fills it from its flags and environment; this package
// reads neither.
type GroupConfig struct {
	// SessionTimeout is how long the group coordinator waits for a
	// heartbeat before it removes the member and moves its partitions,
	// overriding [DefaultSessionTimeout]. The broker bounds it
	// (group.min.session.timeout.ms, 6s on Kafka by default).
	SessionTimeout time.Duration
	// HeartbeatInterval is how often the member heartbeats, overriding
	// [DefaultHeartbeatInterval]; at most a third of the session timeout.
	HeartbeatInterval time.Duration
	// InstanceID, when set, makes the member static (Kafka's
	// group.instance.id): a member restarted with the same id within the
	// session timeout gets its partitions back without a rebalance. It
	// must be unique within the group, e.g. the pod name. Empty means a
	// dynamic member.
	InstanceID string
	// ClientID names the client to the brokers (their logs, quotas and
	// metrics), overriding franz-go's default "kgo"; services use their
	// name.
	ClientID string
}

// Options returns the franz-go options for g. Append them to
// [ConsumerClientOptions]. It returns an error for a negative duration or
// a heartbeat interval above a third of the session timeout.
func (g GroupConfig) Options() ([]kgo.Opt, error) {
	session, heartbeat := g.SessionTimeout, g.HeartbeatInterval
	if session < 0 || heartbeat < 0 {
		return nil, fmt.Errorf("consumer group config: negative session timeout %v or heartbeat interval %v", session, heartbeat)
	}
	if session == 0 {
		session = DefaultSessionTimeout
	}
	if heartbeat == 0 {
		heartbeat = min(DefaultHeartbeatInterval, session/3)
	}
	if heartbeat > session/3 {
		return nil, fmt.Errorf("consumer group config: heartbeat interval %v above a third of the session timeout %v", heartbeat, session)
	}
	opts := []kgo.Opt{kgo.SessionTimeout(session), kgo.HeartbeatInterval(heartbeat)}
	if g.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(g.InstanceID))
	}
	if g.ClientID != "" {
		opts = append(opts, kgo.ClientID(g.ClientID))
	}
	return opts, nil
}
