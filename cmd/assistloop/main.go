// Command assistloop runs the AssistLoop service and its administrative
// tasks:
//
//	assistloop [serve]          HTTP server and background workers
//	assistloop migrate          apply pending migrations and exit
//	assistloop demo             create the demo workspace (idempotent), print credentials
//	assistloop user create      create a user with a workspace and an agent
//	assistloop client create    register an OAuth client
//	assistloop token create     issue an access token for a user
//	assistloop db stop          stop the project-local PostgreSQL cluster
//
// Every command prints JSON on stdout with --json. Configuration comes from
// the environment (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "assistloop:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "assistloop:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: assistloop <command> [flags]

commands:
  serve            run the HTTP server and the webhook workers (default)
  migrate          apply pending database migrations and exit
  demo             create the demo workspace (idempotent) and print its credentials
  user create      --email E --password P --name N --organization NAME [--agent-name A]
  client create    --name N --redirect-uri U [--redirect-uri U2] [--public] [--scope S]
  token create     --user usr_… [--scope "read:conversations …"] [--ttl 720h]
  db stop          stop the project-local PostgreSQL cluster (.data/)

every command accepts --json to print JSON on stdout`

// run dispatches a command line; main only sets up signals and exit codes.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	sub := func() (string, []string) {
		if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
			return "", args
		}
		return args[0], args[1:]
	}
	env := environment{getenv: getenv, stdout: stdout, stderr: stderr}
	switch cmd {
	case "serve":
		return env.serve(ctx, args)
	case "migrate":
		return env.migrate(ctx, args)
	case "demo":
		return env.demo(ctx, args)
	case "db":
		name, rest := sub()
		if name != "stop" {
			return usageError{fmt.Sprintf("unknown command %q; see assistloop help", "db "+name)}
		}
		return env.stopDB(ctx, rest)
	case "user", "client", "token":
		name, rest := sub()
		if name != "create" {
			return usageError{fmt.Sprintf("unknown command %q; see assistloop help", cmd+" "+name)}
		}
		switch cmd {
		case "user":
			return env.createUser(ctx, rest)
		case "client":
			return env.createClient(ctx, rest)
		default:
			return env.createToken(ctx, rest)
		}
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
}
