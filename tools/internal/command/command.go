// Package command assembles the keiyaku command tree.
package command

import (
	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/command/breaking"
	"github.com/keiyaku/keiyaku/tools/internal/command/broker"
	"github.com/keiyaku/keiyaku/tools/internal/command/deps"
	"github.com/keiyaku/keiyaku/tools/internal/command/dlq"
	"github.com/keiyaku/keiyaku/tools/internal/command/docs"
	"github.com/keiyaku/keiyaku/tools/internal/command/export"
	"github.com/keiyaku/keiyaku/tools/internal/command/generate"
	initcmd "github.com/keiyaku/keiyaku/tools/internal/command/init"
	"github.com/keiyaku/keiyaku/tools/internal/command/lint"
	"github.com/keiyaku/keiyaku/tools/internal/command/mock"
	"github.com/keiyaku/keiyaku/tools/internal/command/verify"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

const configFlagName = "config"

// New returns the root command. It prints errors itself only through the
// caller: SilenceErrors is set so that main decides the exit code.
func New(name string) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   name,
		Short: "Contract-first toolkit for Go microservices",
		Long: `keiyaku makes contracts the single source of truth between services:
OpenAPI for synchronous REST, AsyncAPI + Avro for Kafka events.

Exit codes: 0 ok, 1 usage or load error, 100 findings (lint, breaking, generate --check, verify).`,
		Example: `  keiyaku lint
  keiyaku breaking --against .git#branch=main
  keiyaku generate
  keiyaku generate --check`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&configFile, configFlagName, config.FileName, "path of the configuration file; its folder is the workspace root")
	root.AddCommand(
		breaking.NewCommand("breaking", &configFile),
		broker.NewCommand("broker", &configFile),
		docs.NewCommand("docs", &configFile),
		deps.NewCommand("deps", &configFile),
		dlq.NewCommand("dlq"),
		export.NewCommand("export", &configFile),
		generate.NewCommand("generate", &configFile),
		initcmd.NewCommand("init"),
		lint.NewCommand("lint", &configFile),
		mock.NewCommand("mock", &configFile),
		verify.NewCommand("verify", &configFile),
	)
	return root
}
