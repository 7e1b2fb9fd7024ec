package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// helpRequest is a subcommand's answer to -h or --help: its usage, printed
// on stdout with exit status 0.
type helpRequest struct{ text string }

func (h helpRequest) Error() string { return "help requested" }

// newFlagSet returns a subcommand's flag set, quiet: errors are reported
// once, by run, and help by helpRequest.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args into fs. -h and --help give the usage: synopsis
// (a usage line and what the command does), then every flag with the
// environment variable it mirrors (env maps flag names to them) and its
// default.
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, env map[string]string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return helpRequest{usageText(fs, synopsis, env)}
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

// usageText describes a subcommand. A flag's default is the built-in one:
// never what the environment holds, which may be a secret.
func usageText(fs *flag.FlagSet, synopsis string, env map[string]string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(synopsis, "\n") + "\n")
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return b.String()
	}
	if len(env) > 0 {
		b.WriteString("\nFlags (each mirrors the environment variable beside it; a flag wins over its variable):\n")
	} else {
		b.WriteString("\nFlags:\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		valueName, desc := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
			name += " " + valueName
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" && f.DefValue != "0" {
			desc += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, env[f.Name], desc)
	})
	_ = tw.Flush()
	return b.String()
}
