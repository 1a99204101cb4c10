package store

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// The crash test runs the writer below in a child process (this test
// binary again) and kills it with SIGKILL at random moments.
const (
	crashDirEnv  = "BLOCKTORRENT_STORE_CRASH_DIR"
	crashSeedEnv = "BLOCKTORRENT_STORE_CRASH_SEED"
	crashRounds  = 5
	crashMaxAcks = 200
	crashMaxTime = 3 * time.Second
)

// TestHelperWriter is the child process of TestCrashDurability: it opens
// the store, stores blocks (single Puts, batches, and branches that
// overtake the tip) and prints "acked <hash>" for each block once the call
// that stored it has returned. It does nothing in a normal test run.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashDurability")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 7))
	fail := func(err error) {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	// Small files, so that rolls to a new file happen under the knife too.
	s, err := OpenWith(dir, regtest, Options{MaxFileSize: 32 << 10, Logger: quiet})
	if err != nil {
		fail(err)
	}
	for i := range 5000 {
		prev, height, _ := s.Tip()
		n, batch := 1, rng.IntN(4) == 0
		if batch {
			n = 2 + rng.IntN(6)
		}
		if height > 4 && rng.IntN(8) == 0 {
			// A branch from up to three blocks back that overtakes.
			back := int32(1 + rng.IntN(3))
			if prev, err = s.HashAtHeight(height - back); err != nil {
				fail(err)
			}
			height -= back
			n = int(back) + 1 + rng.IntN(2)
		}
		blks := chain(t, prev, height, n, seed<<20+uint64(i), 1+rng.IntN(12))
		if batch {
			if _, err := s.PutBatch(blks); err != nil {
				fail(err)
			}
			for _, blk := range blks {
				fmt.Printf("acked %v\n", blk.BlockHash())
			}
			continue
		}
		for _, blk := range blks {
			if _, err := s.Put(blk); err != nil {
				fail(err)
			}
			fmt.Printf("acked %v\n", blk.BlockHash())
		}
	}
	s.Close()
}

// TestCrashDurability kills a writing process with SIGKILL at random
// moments (after a random number of acknowledged blocks, or a random few
// milliseconds after it starts, perhaps inside Open's recovery) and checks
// after each kill that the store opens, holds every acknowledged block
// intact, and has a consistent best chain whose tip has at least the work
// of every acknowledged block. The store carries over from round to round.
func TestCrashDurability(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the helper process")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 8))
	acked := make(map[chainhash.Hash]bool)
	for round := range crashRounds {
		target := rng.IntN(crashMaxAcks + 1)
		wait := crashMaxTime
		if target == 0 || round == 0 {
			target, wait = 0, time.Duration(rng.IntN(40))*time.Millisecond
		}
		n, err := runWriter(t, dir, seed+uint64(round), target, wait, acked)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: killed after %d acks (kill at %d acks or %v), %d acked in all", round, n, target, wait, len(acked))
		verifyAcked(t, dir, acked)
	}
	if len(acked) == 0 {
		t.Fatal("no block was ever acknowledged")
	}
}

// runWriter runs TestHelperWriter on dir and kills it up to 3 ms after it
// has acknowledged target blocks (if target > 0), or after wait. It adds the
// acknowledged hashes to acked, including those still in the pipe when
// the child died.
func runWriter(t *testing.T, dir string, seed uint64, target int, wait time.Duration, acked map[chainhash.Hash]bool) (int, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	n, killed := 0, false
	kill := func() {
		if !killed {
			cmd.Process.Kill() // SIGKILL
			killed = true
		}
	}
	var childErr string
	// Read until the pipe closes, which happens when the child dies.
	for lines != nil {
		select {
		case <-timer.C:
			kill()
		case line, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			if hex, ok := strings.CutPrefix(line, "acked "); ok {
				hash, err := chainhash.NewHashFromStr(hex)
				if err != nil {
					kill()
					childErr = "bad line " + line
					continue
				}
				acked[*hash] = true
				n++
				if n == target {
					// Kill a random moment later, so that the kill
					// lands anywhere in the next Put, not just
					// after an ack.
					timer.Reset(time.Duration(rand.IntN(3000)) * time.Microsecond)
				}
			} else if strings.HasPrefix(line, "error ") {
				childErr = line
			}
		}
	}
	cmd.Wait()
	if childErr != "" {
		return n, fmt.Errorf("child: %s\n%s", childErr, stderr.String())
	}
	return n, nil
}

// verifyAcked opens the store after a kill and checks it.
func verifyAcked(t *testing.T, dir string, acked map[chainhash.Hash]bool) {
	t.Helper()
	var log bytes.Buffer
	s, err := OpenWith(dir, regtest, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	t.Logf("recovery: %d truncated tails, %d removed files",
		strings.Count(log.String(), "truncating"), strings.Count(log.String(), "removing"))
	tip, _, tipWork := s.Tip()
	maxWork := new(big.Int)
	for hash := range acked {
		blk, err := s.Block(hash)
		if err != nil {
			t.Fatalf("acknowledged block %v: %v", hash, err)
		}
		if blk.BlockHash() != hash {
			t.Fatalf("acknowledged block %v reads back as %v", hash, blk.BlockHash())
		}
		info, err := s.Info(hash)
		if err != nil {
			t.Fatal(err)
		}
		if info.Work.Cmp(maxWork) > 0 {
			maxWork = info.Work
		}
	}
	if tipWork.Cmp(maxWork) < 0 {
		t.Fatalf("tip %v has work %v, less than the acknowledged %v", tip, tipWork, maxWork)
	}
	if _, err := s.Block(tip); err != nil {
		t.Fatalf("tip %v: %v", tip, err)
	}
	checkBestChain(t, s)
}
