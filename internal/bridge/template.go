package bridge

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/btcsuite/btcd/btcjson"
)

// pollTemplates adds the transactions of the Bitcoin node's block template
// to the mempool every PollTemplate: a second source besides P2P invs, for
// transactions the node accepted before the bridge connected.
func (b *Bridge) pollTemplates(ctx context.Context) {
	t := time.NewTicker(b.cfg.PollTemplate)
	defer t.Stop()
	for {
		if n, err := b.pollTemplate(ctx); err != nil {
			b.log.Debug("getblocktemplate failed", "err", err)
		} else if n > 0 {
			b.log.Debug("template transactions added", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollTemplate runs one getblocktemplate and returns how many of its
// transactions were new to the mempool.
func (b *Bridge) pollTemplate(ctx context.Context) (int, error) {
	f := b.rpc.GetBlockTemplateAsync(&btcjson.TemplateRequest{Mode: "template", Rules: []string{"segwit"}})
	type result struct {
		res *btcjson.GetBlockTemplateResult
		err error
	}
	done := make(chan result, 1)
	go func() { r, err := f.Receive(); done <- result{r, err} }()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if r.err != nil {
		return 0, errorf(ErrRPC, "getblocktemplate: %v", r.err)
	}
	added := 0
	for _, tx := range r.res.Transactions {
		raw, err := hex.DecodeString(tx.Data)
		if err != nil {
			continue
		}
		if _, ok, err := b.pool.AddRaw(raw); err == nil && ok {
			added++
		}
	}
	b.mu.Lock()
	b.stats.TemplateTxs += int64(added)
	b.mu.Unlock()
	return added, nil
}
