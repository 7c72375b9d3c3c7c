package app_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// buildThings assembles the things service: a new service that is none of
// the reference four, from the public API only. Its main is
//
//	func main() { app.Serve(app.Process{Name: "things", DefaultAddr: ":8080", Start: app.Build(buildThings)}) }
func buildThings(ctx context.Context, env app.Env, tel app.Telemetry, parts *app.Parts) error {
	spec, err := openapi3.NewLoader().LoadFromData([]byte(thingsSpec))
	if err != nil {
		return err
	}
	db, err := parts.OpenDB(ctx, env.DatabaseURL, "things", migrations, tel)
	if err != nil {
		return err
	}
	_, err = parts.NewHTTPServer(ctx, app.HTTPConfig{
		Name: "things", Addr: env.ListenAddr, Spec: spec, API: thingsAPI(db), DB: db, Idempotent: true,
	}, tel)
	return err
}

// thingsAPI is the handler of the things contract: POST /things stores
// the id of its body, GET /things/{id} finds it.
func thingsAPI(db *sqldb.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ID string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ID == "" {
			http.Error(w, "want {\"id\": …}", http.StatusBadRequest)
			return
		}
		if _, err := db.ExecContext(r.Context(), db.Rebind(`INSERT INTO things (id) VALUES (?)`), body.ID); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": body.ID})
	})
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		var id string
		err := db.QueryRowContext(r.Context(), db.Rebind(`SELECT id FROM things WHERE id = ?`), r.PathValue("id")).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
	return mux
}

// envServe makes the test binary run the things service with app.Serve
// instead of the tests.
const envServe = "APP_TEST_SERVE_THINGS"

// TestServe runs the things service as a process of its own through
// app.Serve, as its main would: it serves its contract on the address it
// logs, keeps what it is sent in its database, warns that the Pact state
// endpoint is on, and exits 0 after SIGTERM; a malformed variable exits 2
// naming it.
func TestServe(t *testing.T) {
	if os.Getenv(envServe) == "1" {
		app.Serve(app.Process{Name: "things", DefaultAddr: ":0", Start: app.Build(buildThings)})
		return
	}
	t.Parallel()
	start := func(t *testing.T, extra ...string) (*exec.Cmd, *bufio.Scanner) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestServe$")
		cmd.Env = append(os.Environ(), envServe+"=1", "LISTEN_ADDR=127.0.0.1:0",
			"DATABASE_URL="+filepath.Join(t.TempDir(), "things.db"), "KAFKA_BROKERS=127.0.0.1:1")
		cmd.Env = append(cmd.Env, extra...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewScanner(stderr)
	}

	t.Run("serves until SIGTERM", func(t *testing.T) {
		t.Parallel()
		cmd, lines := start(t, "PACT_PROVIDER_STATES=true")
		var addr string
		warned := false
		for addr == "" && lines.Scan() {
			var rec struct{ Level, Msg, Addr string }
			if json.Unmarshal(lines.Bytes(), &rec) != nil {
				continue
			}
			warned = warned || (rec.Level == "WARN" && strings.Contains(rec.Msg, "PACT_PROVIDER_STATES"))
			if rec.Msg == "http server listening" {
				addr = rec.Addr
			}
		}
		if addr == "" {
			t.Fatalf("the service never logged its listening address: %v", cmd.Wait())
		}
		if !warned {
			t.Error("PACT_PROVIDER_STATES=true: no warning before the service started")
		}
		done := make(chan struct{})
		go func() {
			for lines.Scan() { // the rest of the log, until the process exits
			}
			close(done)
		}()

		c := &http.Client{Timeout: 10 * time.Second}
		const id = "0b0e4c1e-3f3a-4d7e-9c55-4b1a2f6c7d8e"
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/things", strings.NewReader(`{"id":"`+id+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k1")
		if got := status(t, c, req); got != http.StatusCreated {
			t.Errorf("POST /things: %d, want 201", got)
		}
		get, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/things/"+id, nil)
		if got := status(t, c, get); got != http.StatusOK {
			t.Errorf("GET /things/%s after POST: %d, want 200", id, got)
		}
		bad, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/things/not-a-uuid", nil)
		if got := status(t, c, bad); got != http.StatusBadRequest {
			t.Errorf("GET /things/not-a-uuid: %d, want 400 from the contract", got)
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-done
		if err := cmd.Wait(); err != nil {
			t.Errorf("after SIGTERM: %v, want exit 0", err)
		}
	})

	t.Run("malformed variable", func(t *testing.T) {
		t.Parallel()
		cmd, lines := start(t, "DEMO_DATA=maybe")
		var out strings.Builder
		for lines.Scan() {
			out.WriteString(lines.Text() + "\n")
		}
		var exit *exec.ExitError
		if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("DEMO_DATA=maybe: %v, want exit 2", err)
		}
		if !strings.Contains(out.String(), `DEMO_DATA: "maybe"`) {
			t.Errorf("stderr does not name the variable:\n%s", out.String())
		}
	})
}

// status sends req and returns the response's status code.
func status(t *testing.T, c *http.Client, req *http.Request) int {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
