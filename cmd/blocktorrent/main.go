// Command blocktorrent is the Blocktorrent node and its tools:
//
//	blocktorrent node     run a node
//	blocktorrent demo     a local network of real nodes relaying one block
//	blocktorrent bench    Blocktorrent against legacy relay on emulated networks
//	blocktorrent status   print a running node's /status
//	blocktorrent import   load blk*.dat or bootstrap.dat files into a node's store
//	blocktorrent version  print the version
//
// The command is thin: each subcommand parses its flags and calls a package
// under internal/.
package main

import (
	"fmt"
	"os"
)

// version is the release of this build.
const version = "0.1.0-dev"

type command struct {
	name, summary string
	run           func(args []string) error
}

var commands = []command{
	{"node", "run a Blocktorrent node", runNode},
	{"demo", "relay one block through a local network of real nodes", runDemo},
	{"bench", "compare Blocktorrent with legacy relay on emulated networks", runBench},
	{"status", "print a running node's status", runStatus},
	{"import", "import blk*.dat or bootstrap.dat files into a node's store", runImport},
	{"version", "print the version", func([]string) error { fmt.Printf("blocktorrent %s\n", version); return nil }},
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "help" || name == "-h" || name == "--help" {
		usage()
		return
	}
	for _, c := range commands {
		if c.name == name {
			if err := c.run(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "blocktorrent %s: %v\n", name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "blocktorrent: unknown command %q\n\n", name)
	usage()
	os.Exit(2)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: blocktorrent COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'blocktorrent COMMAND -h' for a command's flags.")
}
