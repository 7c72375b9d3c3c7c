package events

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms understood by [ClientConfig].
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// ClientConfig is how to reach a Kafka cluster: the seed brokers and,
// for a secured cluster, TLS and SASL. main fills it from its flags and
// environment (KAFKA_BROKERS, …); this package reads neither.
type ClientConfig struct {
	// Brokers are the seed brokers, host:port each.
	Brokers []string
	// TLS, when set, encrypts the connections; [LoadTLS] builds one from
	// PEM files. Nil means plaintext.
	TLS *tls.Config
	// SASL, when set, authenticates the client. Nil means no
	// authentication.
	SASL *SASL
}

// SASL is a SASL/PLAIN or SASL/SCRAM login. Use it with TLS: PLAIN sends
// the password as is.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case).
	Mechanism string
	User      string
	Password  string
}

// Options returns the franz-go options for c: the seed brokers, the TLS
// dialer and the SASL mechanism. Append them to [ProducerClientOptions] or
// [ConsumerClientOptions]. Options returns an error when no broker is
// given, a broker is not host:port, or the SASL login is incomplete or
// names an unknown mechanism.
func (c ClientConfig) Options() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("kafka client config: no brokers")
	}
	brokers := make([]string, 0, len(c.Brokers))
	for _, b := range c.Brokers {
		b = strings.TrimSpace(b)
		host, port, err := net.SplitHostPort(b)
		if err != nil {
			return nil, fmt.Errorf("kafka client config: broker %q: %w", b, err)
		}
		if host == "" {
			return nil, fmt.Errorf("kafka client config: broker %q: missing host", b)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return nil, fmt.Errorf("kafka client config: broker %q: bad port", b)
		}
		brokers = append(brokers, b)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	if c.SASL != nil {
		mech, err := c.SASL.mechanism()
		if err != nil {
			return nil, fmt.Errorf("kafka client config: %w", err)
		}
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	if s.User == "" {
		return nil, errors.New("sasl: empty user")
	}
	if s.Password == "" {
		return nil, errors.New("sasl: empty password")
	}
	user, pass := s.User, s.Password
	switch strings.ToUpper(s.Mechanism) {
	case SASLPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			return plain.Auth{User: user, Pass: pass}, nil
		}), nil
	case SASLScramSHA256:
		return scram.Sha256(func(context.Context) (scram.Auth, error) {
			return scram.Auth{User: user, Pass: pass}, nil
		}), nil
	case SASLScramSHA512:
		return scram.Sha512(func(context.Context) (scram.Auth, error) {
			return scram.Auth{User: user, Pass: pass}, nil
		}), nil
	default:
		return nil, fmt.Errorf("sasl: unknown mechanism %q (want %s, %s or %s)", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
}

// LoadTLS builds a client TLS configuration from PEM files. caFile, when
// not empty, holds the certificate authorities that sign the brokers'
// certificates (otherwise the system roots are used); certFile and keyFile,
// both or neither, hold the client certificate for mutual TLS. The minimum
// version is TLS 1.2. LoadTLS returns an error when a file cannot be read
// or holds no usable PEM.
func LoadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("load tls: ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("load tls: ca %s: no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		return nil, errors.New("load tls: give both a client certificate and its key, or neither")
	default:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
