package main

import (
	"context"
	"flag"
	"os"
	"os/signal"

	"github.com/blocktorrent/blocktorrent/internal/demo"
)

func runDemo(args []string) error {
	o := demo.DefaultOptions()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.IntVar(&o.Nodes, "nodes", o.Nodes, "nodes in the line")
	fs.IntVar(&o.Txs, "txs", o.Txs, "transactions in the block")
	fs.DurationVar(&o.Delay, "delay", o.Delay, "one-way delay per link")
	fs.Float64Var(&o.Mbit, "mbit", o.Mbit, "link rate in Mbit/s each way")
	fs.Float64Var(&o.Loss, "loss", o.Loss, "random loss per link each way, 0..1")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the block")
	fs.BoolVar(&o.Bars, "progress", o.Bars, "show live progress bars")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err := demo.Run(ctx, os.Stdout, o)
	return err
}
