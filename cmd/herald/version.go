package main

import (
	"fmt"
	"io"
)

const versionSynopsis = `Usage: herald version

Prints the version, the source revision and the Go version of this binary:
what the linker was told (make image stamps them), else what the Go
toolchain recorded, as herald_build_info reports them.`

func runVersion(args []string, stdout io.Writer) error {
	fs := newFlagSet("herald version")
	if err := parseFlags(fs, args, versionSynopsis, nil); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	b := currentBuild()
	fmt.Fprintf(stdout, "herald %s\nrevision %s\n%s\n", b.Version, b.Revision, b.GoVersion)
	return nil
}
