// Command regiondrill proves a multi-region RAG service can evacuate a
// region, keep its answers consistent and return home.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/regiondrill/regiondrill/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
