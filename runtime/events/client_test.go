package events_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
)

// pki is a throwaway certificate authority with a server certificate for
// 127.0.0.1 and a client certificate, written as PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err := x509.ParseCertificate(caDER)
	must(t, err)
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		must(t, err)
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{
		dir:      dir,
		caFile:   write("ca.pem", "CERTIFICATE", caDER),
		certFile: write("client.pem", "CERTIFICATE", cliDER),
		keyFile:  write("client-key.pem", "EC PRIVATE KEY", cliKeyDER),
		server:   tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pool:     pool,
	}
}

// TestClientConfigConnects pins the production connection path against a
// broker that requires mutual TLS and SASL: the options built from PEM files
// and each SASL mechanism produce a record, and a wrong password or a
// missing client certificate fails.
func TestClientConfigConnects(t *testing.T) {
	t.Parallel()
	certs := newPKI(t)
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{
			Certificates: []tls.Certificate{certs.server},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    certs.pool,
			MinVersion:   tls.VersionTLS12,
		}),
		kfake.EnableSASL(),
		kfake.Superuser(events.SASLPlain, "plain-user", "plain-pw"),
		kfake.Superuser(events.SASLScramSHA256, "scram256-user", "scram256-pw"),
		kfake.Superuser(events.SASLScramSHA512, "scram512-user", "scram512-pw"),
		kfake.SeedTopics(1, "secure"),
	)
	must(t, err)
	t.Cleanup(cluster.Close)
	mtls, err := events.LoadTLS(certs.caFile, certs.certFile, certs.keyFile)
	must(t, err)
	serverOnly, err := events.LoadTLS(certs.caFile, "", "")
	must(t, err)

	tests := []struct {
		name   string
		tls    *tls.Config
		sasl   *events.SASL
		fail   bool
		errHas string // kfake drops the connection on a bad SCRAM proof: no message to match
	}{
		{"plain", mtls, &events.SASL{Mechanism: "plain", User: "plain-user", Password: "plain-pw"}, false, ""},
		{"scram-sha-256", mtls, &events.SASL{Mechanism: "scram-sha-256", User: "scram256-user", Password: "scram256-pw"}, false, ""},
		{"scram-sha-512", mtls, &events.SASL{Mechanism: "SCRAM-SHA-512", User: "scram512-user", Password: "scram512-pw"}, false, ""},
		{"wrong password", mtls, &events.SASL{Mechanism: "SCRAM-SHA-512", User: "scram512-user", Password: "nope"}, true, ""},
		{"no client certificate", serverOnly, &events.SASL{Mechanism: "plain", User: "plain-user", Password: "plain-pw"}, true, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts, err := events.ClientConfig{Brokers: cluster.ListenAddrs(), TLS: tt.tls, SASL: tt.sasl}.Options()
			must(t, err)
			cl, err := kgo.NewClient(append(opts, append(events.ProducerClientOptions(), kgo.RequestRetries(0))...)...)
			must(t, err)
			defer cl.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if tt.fail {
				if err := cl.Ping(ctx); err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Ping error = %v, want an error containing %q", err, tt.errHas)
				}
				return
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		})
	}
}

// TestClientConfigRejectsBadInput pins that a bad configuration is an error
// naming the problem before any connection is tried.
func TestClientConfigRejectsBadInput(t *testing.T) {
	t.Parallel()
	certs := newPKI(t)
	tests := []struct {
		name string
		cfg  events.ClientConfig
		want string
	}{
		{"no brokers", events.ClientConfig{}, "no brokers"},
		{"no port", events.ClientConfig{Brokers: []string{"kafka"}}, "missing port"},
		{"no host", events.ClientConfig{Brokers: []string{":9092"}}, "missing host"},
		{"port 0", events.ClientConfig{Brokers: []string{"kafka:0"}}, "bad port"},
		{"bad mechanism", events.ClientConfig{Brokers: []string{"k:9092"}, SASL: &events.SASL{Mechanism: "GSSAPI", User: "u", Password: "p"}}, `unknown mechanism "GSSAPI"`},
		{"no user", events.ClientConfig{Brokers: []string{"k:9092"}, SASL: &events.SASL{Mechanism: "PLAIN", Password: "p"}}, "empty user"},
		{"no password", events.ClientConfig{Brokers: []string{"k:9092"}, SASL: &events.SASL{Mechanism: "PLAIN", User: "u"}}, "empty password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.cfg.Options()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Options error = %v, want it to contain %q", err, tt.want)
			}
		})
	}

	notPEM := filepath.Join(certs.dir, "not.pem")
	must(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	tlsTests := []struct {
		name, ca, cert, key, want string
	}{
		{"missing ca", filepath.Join(certs.dir, "absent.pem"), "", "", "no such file"},
		{"ca not pem", notPEM, "", "", "no PEM certificate"},
		{"cert without key", certs.caFile, certs.certFile, "", "both"},
		{"key without cert", "", "", certs.keyFile, "both"},
		{"bad key pair", "", certs.certFile, notPEM, "client certificate"},
	}
	for _, tt := range tlsTests {
		t.Run("tls "+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.LoadTLS(tt.ca, tt.cert, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadTLS error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
