// Command blocktorrent is the Blocktorrent node and its tools.
package main

import (
	"fmt"
	"os"
)

// version is the release of this build.
const version = "0.1.0-dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "version":
		fmt.Printf("blocktorrent %s\n", version)
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "blocktorrent: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: blocktorrent COMMAND [flags]

commands:
  version   print the version
`)
}
