package scaffold_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeMainLines is the most lines the README's example of a
// full-featured service's main may take (issue 13: a service's main in
// at most 40 lines).
const readmeMainLines = 40

// readmeExample returns the first Go block of README.md after the heading.
func readmeExample(t *testing.T, readme, heading string) string {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var block strings.Builder
	seen, in := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == heading:
			seen = true
		case seen && !in && line == "```go":
			in = true
		case in && line == "```":
			return block.String()
		case in:
			block.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("%s: no Go block after %q: the README changed shape", readme, heading)
	return ""
}

// readmeStubs are the parts of the README's example that it leaves to the
// service: its migrations, its API handler and its event handler.
const readmeStubs = `package main

import (
	"context"
	"io/fs"
	"net/http"

	ordersv1 "example.com/orders/gen/orders/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	rtevents "github.com/keiyaku/keiyaku/runtime/events"
	rtoutbox "github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

var migrations fs.FS

func handler(*sqldb.DB, *rtoutbox.Store, *ordersv1.Publisher, any, app.Telemetry) http.Handler {
	return http.NotFoundHandler()
}

type events struct{ db *sqldb.DB }

func (*events) OnItemCreated(context.Context, rtevents.Envelope, *ordersv1.ItemCreated) error { return nil }
`

// TestReadmeServiceMain compiles the README's example of a service's main
// (section "A service's main") against runtime/app and the code keiyaku
// generates for an orders service that uses a stock API, so the example
// cannot rot, and pins its length.
func TestReadmeServiceMain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keiyaku, generates code and compiles a service")
	}
	src, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	example := readmeExample(t, filepath.Join(src, "README.md"), "### A service's main")
	if n := strings.Count(example, "\n"); n > readmeMainLines {
		t.Errorf("README's service main is %d lines, want at most %d", n, readmeMainLines)
	}
	main := `package main

import (
	"context"

	ordersv1 "example.com/orders/gen/orders/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
)

` + example
	script := `keiyaku init --service orders --module example.com/orders
mkdir -p contracts/stock/v1 cmd/readme
cp contracts/orders/v1/openapi.yaml contracts/stock/v1/openapi.yaml
cat > keiyaku.yaml <<'EOF'
version: v1
modules:
  - path: contracts/orders/v1
    service: orders
    uses:
      - module: contracts/stock/v1
        timeout: 2s
  - path: contracts/stock/v1
    service: stock
EOF
keiyaku generate
for m in /runtime /runtime/sqldb /runtime/telemetry/export /runtime/outbox /runtime/app; do
  go mod edit -replace="github.com/keiyaku/keiyaku$m=$KEIYAKU_SRC$m"
done
cat > cmd/readme/main.go <<'EOF'
` + main + `EOF
cat > cmd/readme/stubs.go <<'EOF'
` + readmeStubs + `EOF
go mod tidy
go vet ./cmd/readme
`
	cmd := scriptCommand(t, src, script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README's service main: %v\n%s\n--- main.go ---\n%s", err, out, main)
	}
}
