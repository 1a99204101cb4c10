package session

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// clock is a settable clock for the score.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestScoreDecay checks the decay arithmetic at exact times (no ban is
// reached, so the session needs no connection).
func TestScoreDecay(t *testing.T) {
	type step struct {
		advance time.Duration
		points  int // added after advancing (0: none)
		want    int
	}
	tests := []struct {
		name  string
		decay time.Duration
		steps []step
	}{
		{"one point a minute", time.Minute, []step{
			{0, 10, 10},
			{59 * time.Second, 0, 10},
			{time.Second, 0, 9}, // a whole minute since the penalty
			{9 * time.Minute, 0, 0},
			{time.Hour, 0, 0}, // a clean record earns no credit...
			{0, 10, 10},       // ...so the next penalty counts in full
		}},
		{"partial minutes carry over", time.Minute, []step{
			{0, 10, 10},
			{30 * time.Second, 10, 20},
			{30 * time.Second, 0, 19},
			{90 * time.Second, 0, 18}, // 2.5 minutes since the first penalty
			{30 * time.Second, 0, 17},
		}},
		{"configured: a point every 10 s", 10 * time.Second, []step{
			{0, 20, 20}, {time.Minute, 0, 14}, {5 * time.Minute, 0, 0},
		}},
		{"off", -1, []step{
			{0, 20, 20}, {365 * 24 * time.Hour, 0, 20},
		}},
		{"clock going back", time.Minute, []step{
			{0, 10, 10}, {-time.Hour, 0, 10}, {time.Hour + time.Minute, 0, 9},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			l := &Local{ScoreDecay: tt.decay, now: clk.now}
			s := scoredSession(l)
			for i, st := range tt.steps {
				clk.advance(st.advance)
				if st.points != 0 {
					s.Penalize("stall", st.points)
				}
				if got, _ := s.Score(); got != st.want {
					t.Fatalf("step %d: score %d, want %d", i, got, st.want)
				}
			}
		})
	}
}

// scoredSession builds just enough of a session to score it below the ban.
func scoredSession(l *Local) *Session {
	s := &Session{reasons: make(map[string]int), log: slog.New(slog.DiscardHandler)}
	s.decay, s.now = l.scoreClock()
	return s
}

// TestScoreDecayBan runs a real session through four weeks of virtual time:
// a lossy honest peer scored `stall` every 20 minutes is never banned;
// the same peer stalling every minute is disconnected at BanScore but not
// banned (stall is a soft reason); proven misbehaviour then bans it, once.
func TestScoreDecayBan(t *testing.T) {
	reg := &chaincfg.RegressionNetParams
	a, b := newEnd(t, reg), newEnd(t, reg)
	clk := newClock()
	a.local.now = clk.now
	sa, sb, errA, errB := pair(t, a, b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	defer sa.Close()
	defer sb.Close()
	if sa.decay != DefaultScoreDecay {
		t.Fatalf("decay %v, want the default %v", sa.decay, DefaultScoreDecay)
	}
	const stall = 10
	highest := 0
	for range 4 * 7 * 24 * 3 {
		clk.advance(20 * time.Minute)
		sa.Penalize("stall", stall)
		score, _ := sa.Score()
		highest = max(highest, score)
	}
	_, reasons := sa.Score()
	if highest != stall || reasons["stall"] != 4*7*24*3*stall {
		t.Fatalf("highest score %d (want %d), stall points over the weeks %d", highest, stall, reasons["stall"])
	}
	select {
	case <-sa.Done():
		t.Fatalf("the occasional staller was disconnected: %v", sa.Err())
	default:
	}
	// Ten points a minute, less one of decay: 10, 19, 28, ..., 100 at the
	// eleventh.
	clk.advance(20 * time.Minute) // the last stall has decayed
	for i := 1; i <= 11; i++ {
		if i > 1 {
			clk.advance(time.Minute)
		}
		sa.Penalize("stall", stall)
		score, _ := sa.Score()
		a.h.mu.Lock()
		bans := len(a.h.bans)
		a.h.mu.Unlock()
		if want := stall*i - (i - 1); score != want {
			t.Fatalf("stall %d: score %d, want %d", i, score, want)
		}
		if bans != 0 {
			t.Fatalf("stall %d (score %d): banned for slowness", i, score)
		}
	}
	select {
	case <-sa.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a peer at BanScore in stall points is still connected")
	}
	// Proven misbehaviour bans, once, however often it comes.
	sa.Penalize("protocol", BanScore)
	sa.Penalize("invalid-run", BanScore)
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	if len(a.h.bans) != 1 || a.h.bans[0] != "protocol" {
		t.Fatalf("bans %v, want one for protocol", a.h.bans)
	}
}

// TestSoftPointsDecayFirst checks that the points of a soft reason (stall)
// are the first to decay, so proven misbehaviour is remembered longest.
func TestSoftPointsDecayFirst(t *testing.T) {
	clk := newClock()
	s := scoredSession(&Local{ScoreDecay: time.Minute, now: clk.now})
	s.Penalize("stall", 30)
	s.Penalize("protocol", 20)
	if s.score != 50 || s.soft != 30 {
		t.Fatalf("score %d soft %d, want 50 and 30", s.score, s.soft)
	}
	clk.advance(25 * time.Minute)
	s.Score() // decays
	if s.score != 25 || s.soft != 5 {
		t.Fatalf("after 25 min: score %d soft %d, want 25 and 5", s.score, s.soft)
	}
	clk.advance(10 * time.Minute)
	s.Score()
	if s.score != 15 || s.soft != 0 {
		t.Fatalf("after 35 min: score %d soft %d, want 15 (all proven) and 0", s.score, s.soft)
	}
}
