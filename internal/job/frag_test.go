package job

import (
	"bytes"
	"testing"
	"time"

	btcwire "github.com/btcsuite/btcd/wire/v2"

	"github.com/blocktorrent/blocktorrent/internal/wire"
	dto "github.com/prometheus/client_model/go"
)

// TestFragmentLimits fills partial bodies from several senders and checks
// the caps per sender and job, per job, and over all jobs, that dropped
// fragments are counted, that each sender's body reassembles apart, and
// that completing, dropping a peer and clearing give the bytes back.
func TestFragmentLimits(t *testing.T) {
	e := newEngine(make(chan *btcwire.MsgBlock, 1))
	now := time.Unix(1e9, 0)
	newTestJob := func(nonce uint32) *job {
		j, err := newJob(btcwire.BlockHeader{Nonce: nonce}, 100_000, now)
		if err != nil {
			t.Fatal(err)
		}
		e.jobs[j.id] = j
		return j
	}
	const total = 1_000_000 // a body of 1 MB: four fit one sender's cap
	first := func(j *job, from PeerID, leaf uint32) bool {
		_, _ = e.reassemble(j, from, wire.TxFragment{Leaf: leaf, Total: total, Offset: 0, Data: make([]byte, 1000)})
		_, ok := j.frags[fragKey{leaf, from}]
		return ok
	}
	j := newTestJob(1)
	// One sender: four buffers, the fifth is over its cap.
	for leaf := range uint32(4) {
		if !first(j, 1, leaf) {
			t.Fatalf("sender 1's buffer %d refused", leaf)
		}
	}
	if first(j, 1, 4) {
		t.Fatal("sender 1 went past its per-job cap")
	}
	// Other senders fill the job to its cap: 16 MiB is 16 such bodies.
	taken := 4
	for from := PeerID(2); from <= 5; from++ {
		for leaf := range uint32(4) {
			if first(j, from, 100+leaf) {
				taken++
			}
		}
	}
	if taken != maxFragBytes/total || j.fragBytes > maxFragBytes {
		t.Fatalf("%d buffers (%d bytes) in the job, want %d within %d", taken, j.fragBytes, maxFragBytes/total, maxFragBytes)
	}
	// More jobs: all of them together stop at the engine's cap.
	for n := uint32(2); n < 10; n++ {
		jn := newTestJob(n)
		for from := PeerID(1); from <= 4; from++ {
			for leaf := range uint32(4) {
				first(jn, from, leaf)
			}
		}
	}
	if all := e.fragBytesAll(); all > maxFragAllBytes || all < maxFragAllBytes-total {
		t.Fatalf("%d bytes in all jobs, want just under %d", all, maxFragAllBytes)
	}
	// Every refused buffer was counted: 1 for sender 1, 4 for the job cap
	// and the rest in the other jobs.
	var dropped dto.Metric
	if err := e.m.FragsDropped.Write(&dropped); err != nil {
		t.Fatal(err)
	}
	if got := dropped.GetCounter().GetValue(); got < 5 {
		t.Fatalf("%v fragments counted as dropped, want at least 5", got)
	}
	// Each sender's fragments reassemble apart: sender 6 writes the true
	// body in two halves while sender 7 writes garbage over the same leaf.
	j2 := newTestJob(99)
	clear(e.jobs)
	e.jobs[j2.id] = j2
	body := bytes.Repeat([]byte{0xab}, 3000)
	junk := bytes.Repeat([]byte{0xcd}, 3000)
	frag := func(from PeerID, data []byte, off int) []byte {
		got, _ := e.reassemble(j2, from, wire.TxFragment{Leaf: 7, Total: 3000, Offset: uint32(off), Data: data[off : off+1500]})
		return got
	}
	frag(6, body, 0)
	frag(7, junk, 1500)
	if got := frag(6, body, 1500); !bytes.Equal(got, body) {
		t.Fatal("sender 6's body mixed with sender 7's fragment")
	}
	if _, ok := j2.frags[fragKey{7, 7}]; !ok || j2.fragBy[7] != 3000 {
		t.Fatalf("sender 7's partial body: %v, %d bytes", ok, j2.fragBy[7])
	}
	j2.dropFrags(7)
	if j2.fragBytes != 0 || len(j2.fragBy) != 0 || len(j2.frags) != 0 {
		t.Fatalf("after the body was stored: %d bytes, %v, %d buffers", j2.fragBytes, j2.fragBy, len(j2.frags))
	}
	frag(7, junk, 0)
	j2.dropPeer(7)
	if j2.fragBytes != 0 || len(j2.frags) != 0 {
		t.Fatalf("after dropping the sender: %d bytes, %d buffers", j2.fragBytes, len(j2.frags))
	}
	frag(6, body, 0)
	frag(7, junk, 0)
	j2.clearFrags()
	if j2.fragBytes != 0 || len(j2.fragBy) != 0 || len(j2.frags) != 0 || e.fragBytesAll() != 0 {
		t.Fatalf("after clearing: %d bytes, %v, %d buffers", j2.fragBytes, j2.fragBy, len(j2.frags))
	}
}
