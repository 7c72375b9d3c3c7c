package mock_test

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/services/room"
)

// BenchmarkMockGET measures the mock answering GET /rooms/{roomId} over
// loopback HTTP, with a body generated from the schema (Prefer:
// dynamic=true: generation and validation on every request) and with the
// contract's example, reporting requests/s and the p99 latency.
func BenchmarkMockGET(b *testing.B) {
	srv, _ := serveMock(b, contracts(b)["room"])
	url := srv.URL + "/rooms/" + room.DoubleRoomID
	for _, bc := range []struct{ name, prefer string }{{"generated", "dynamic=true"}, {"example", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var mu sync.Mutex
			var lat []time.Duration
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, url, nil)
					if bc.prefer != "" {
						req.Header.Set("Prefer", bc.prefer)
					}
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					mine = append(mine, time.Since(t0))
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
