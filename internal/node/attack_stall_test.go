package node_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blocktorrent/blocktorrent/internal/job"
	"github.com/blocktorrent/blocktorrent/internal/lab"
	"github.com/blocktorrent/blocktorrent/internal/node"
)

// TestAttackStall has a source that announces the whole block and then
// withholds it: node 1 is a real node whose socket (a lab.Staller) drops
// every NODES and TXS datagram it sends ("never-send"), or sends each two
// seconds late ("slow"), while its OPEN_JOB, JOB_STATEs and
// acknowledgements go out at once. Node 0 is an honest source on a slower
// link (2 Mbit/s: about two seconds for the block), node 2 the victim. The
// same block is submitted to the staller first, so the victim opens the
// job from it and, its link being the faster, asks it first. The victim
// takes no pushes (MAX_UNSOLICITED 0, a pull-only node) so that every
// piece is requested: with pushes, the honest source's data overtakes the
// requests to the staller before they time out, and nothing is scored.
//
// Stalling is not a provable lie, so what the code guarantees is that the
// victim stops relying on the staller, not that it bans it: requests to it
// time out and go to the honest source, which finishes the block; four
// timeouts in a row with nothing at all from it score `stall` (10 points),
// and eight unanswered request rounds spanning a second score `stall`
// again, after which the victim no longer believes its announcements for
// the job and stops asking it (docs/protocol.md §10). The test asserts the
// exact block, the stall penalty, that the victim stopped believing the
// staller before the block was complete and asked it nothing more (beyond
// requests already on their way), no ban of it, and no penalty on the
// honest source.
// liarLog is a slog.Handler that notes when a node first stops believing a
// peer's announcements (the log of the `stall` penalty of its second rule,
// job/schedule.go unanswered) and discards everything else.
type liarLog struct {
	mu    sync.Mutex
	first time.Time
}

func (l *liarLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }

func (l *liarLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "peer misbehaved" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" && strings.Contains(a.Value.String(), "unanswered while the peer kept talking") {
			l.mu.Lock()
			if l.first.IsZero() {
				l.first = time.Now()
			}
			l.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

func (l *liarLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *liarLog) WithGroup(string) slog.Handler      { return l }

// at returns when the node first stopped believing a peer (zero if not).
func (l *liarLog) at() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// stallSlack is how long after the victim scores a staller the test still
// lets requests sent before reach it.
const stallSlack = 500 * time.Millisecond

func TestAttackStall(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		// disbelieved: the victim must stop believing the staller before
		// the block is complete. A slow staller's answers land two seconds
		// late, and a late answer clears its count of unanswered rounds
		// (an honest but busy peer's would too), so for it only the
		// first rule is certain to fire in time.
		disbelieved bool
		subnet      byte
	}{
		{"never-send", 0, true, 110},
		{"slow", 2 * time.Second, false, 111},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			const honest, evil, victim = evilNetHonest, evilNetEvil, evilNetVictim
			var staller *lab.Staller
			liar := &liarLog{}
			nw := startEvilNet(ctx, t, tt.subnet, 2e6, func(pc net.PacketConn) net.PacketConn {
				staller = lab.NewStaller(pc, tt.delay)
				return staller
			}, func(cfg *node.Config) {
				cfg.Params.MaxUnsolicited = 0
				cfg.Log = slog.New(liar)
			})
			blk := attackBlock(t, 1000, uint64(110+k))
			submitEvilFirst(ctx, t, nw, blk)
			start := time.Now()
			// While the block moves, note how often the victim has asked the
			// staller a little after it stopped believing it (requests
			// already on their way may still arrive).
			hash := blk.BlockHash()
			askedAfter := int64(-1)
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
				if best, _, _ := nw.Nodes[victim].Tip(); best == hash {
					break
				}
				if at := liar.at(); !at.IsZero() && askedAfter < 0 && time.Since(at) > stallSlack {
					askedAfter = staller.Requests()
				}
				time.Sleep(5 * time.Millisecond)
			}
			waitExactBlock(ctx, t, nw, victim, blk)
			took := time.Since(start)
			if staller.Withheld() < 1 {
				t.Fatal("the staller withheld no datagram: the attack did not happen")
			}

			st := mustStatus(t, ctx, nw.Nodes[victim])
			evilIP := lab.IP(tt.subnet, evil)
			p, ok := findPeer(t, st, evilIP)
			t.Logf("block in %v; staller withheld %d datagrams, was asked %d times (%d soon after it was no longer believed); victim's view of it: score %d %v",
				took.Round(time.Millisecond), staller.Withheld(), staller.Requests(), askedAfter, p.Score, p.Penalties)
			switch {
			case !ok:
				t.Errorf("the staller %v was disconnected: stalling is scored, not banned at once", evilIP)
			case p.Penalties[job.ReasonStall] == 0:
				dumpStatus(ctx, t, "victim", nw.Nodes[victim])
				t.Errorf("the victim did not score the staller %v for stall: %d %v", evilIP, p.Score, p.Penalties)
			}
			if liar.at().IsZero() {
				if tt.disbelieved {
					t.Errorf("the victim still believed the staller when the block was complete")
				} else {
					t.Logf("the victim still believed the staller when the block was complete")
				}
			}
			if askedAfter >= 0 && staller.Requests() > askedAfter {
				t.Errorf("the victim asked the staller %d more times after it stopped believing it", staller.Requests()-askedAfter)
			}
			if b, ok := findBan(st, evilIP); ok {
				t.Errorf("the staller is banned: %+v", b)
			}
			checkHonest(ctx, t, nw.Nodes[victim], lab.IP(tt.subnet, honest))
		})
	}
}
