package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/blocktorrent/blocktorrent/internal/node"
	"github.com/blocktorrent/blocktorrent/internal/store"
)

// runImport loads blk*.dat or bootstrap.dat files into a node's store:
//
//	blocktorrent import --datadir DIR --network NAME FILE...
func runImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dataDir := fs.String("datadir", "", "the node's data directory (required)")
	network := fs.String("network", "mainnet", "Bitcoin network: mainnet, testnet3, testnet4, signet, regtest, simnet")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		return usageError(fs, "--datadir is required")
	}
	if fs.NArg() == 0 {
		return usageError(fs, "no FILE to import")
	}
	params, err := node.NetParams(*network)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return err
	}
	st, err := store.Open(*dataDir, params)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	total := 0
	for _, path := range fs.Args() {
		n, err := store.ImportFile(ctx, st, path, uint32(params.Net))
		total += n
		fmt.Printf("%s: %d blocks imported\n", path, n)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	hash, height, _ := st.Tip()
	fmt.Printf("imported %d blocks; tip %v at height %d\n", total, hash, height)
	return nil
}
