package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestConcurrentReadersAndWriter(t *testing.T) {
	s := openTest(t, t.TempDir(), regtest, Options{MaxFileSize: 64 << 10})
	blks := chain(t, *regtest.GenesisHash, 0, 150, 40, 4)
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for !done.Load() {
				tip, height, _ := s.Tip()
				// A published tip is always readable.
				if _, err := s.Block(tip); err != nil {
					if errors.Is(err, ErrClosed) {
						return
					}
					errs <- err
					return
				}
				hdrs := s.Headers(tip, 20)
				if len(hdrs) != min(20, int(height)+1) {
					if _, err := s.Block(tip); errors.Is(err, ErrClosed) {
						return // Headers answers nil once closed
					}
					errs <- errors.New("short headers")
					return
				}
				s.Ancestors(tip, 20)
				reads.Add(1)
			}
		})
	}
	for i := 0; i < len(blks); {
		if i%3 == 0 {
			j := min(i+5, len(blks))
			if _, err := s.PutBatch(blks[i:j]); err != nil {
				t.Fatal(err)
			}
			i = j
			continue
		}
		if _, err := s.Put(blks[i]); err != nil {
			t.Fatal(err)
		}
		i++
	}
	// Close while the readers run: they must see ErrClosed, nothing worse.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d reads alongside %d writes", reads.Load(), len(blks))
}
