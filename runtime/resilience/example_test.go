package resilience_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/keiyaku/keiyaku/runtime/resilience"
)

// A client for one target, configured from plain values, with the last good
// answer as fallback. A generated client takes it with WithHTTPClient(c).
func Example() {
	calls := 0
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls > 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the member service goes down
			return
		}
		fmt.Fprint(w, `{"id":"m-1","active":true}`)
	}))
	defer member.Close()

	policy := resilience.Policy{Timeout: 3 * time.Second, MaxAttempts: 2, BackoffInitial: time.Millisecond}
	c, err := resilience.New("member", append(policy.Options(),
		resilience.WithFallback(nil, resilience.LastGood(time.Minute, 1000)))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, member.URL+"/members/m-1", nil)
		resp, err := c.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body), resilience.IsFallback(resp))
	}
	// Output:
	// 200 {"id":"m-1","active":true} false
	// 200 {"id":"m-1","active":true} true
}
