// Command keiyaku is the contract-first toolkit: it lints contracts, checks
// them for breaking changes and generates Go code from them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/keiyaku/keiyaku/tools/internal/command"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := command.New("keiyaku").ExecuteContext(ctx)
	stop()
	if err != nil {
		var fe *exitcode.FindingsError
		if !errors.As(err, &fe) {
			fmt.Fprintln(os.Stderr, "keiyaku:", err)
		}
	}
	os.Exit(exitcode.Of(err))
}
