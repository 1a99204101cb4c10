package node

import (
	"net/netip"
	"sort"
	"sync"
	"time"
)

// banList holds banned IPs with the reason and expiry. Bans expire by
// themselves. It is safe for concurrent use.
type banList struct {
	mu   sync.Mutex
	dur  time.Duration
	bans map[netip.Addr]Ban
}

// Ban is one banned address as /status lists it.
type Ban struct {
	Addr   string    `json:"addr"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

func newBanList(d time.Duration) *banList {
	return &banList{dur: d, bans: make(map[netip.Addr]Ban)}
}

func (b *banList) ban(ip netip.Addr, reason string, now time.Time) {
	if !ip.IsValid() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bans[ip] = Ban{Addr: ip.String(), Reason: reason, Until: now.Add(b.dur)}
}

func (b *banList) banned(ip netip.Addr, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ban, ok := b.bans[ip]
	if ok && now.After(ban.Until) {
		delete(b.bans, ip)
		return false
	}
	return ok
}

// list returns the bans in force, by address.
func (b *banList) list(now time.Time) []Ban {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []Ban{}
	for ip, ban := range b.bans {
		if now.After(ban.Until) {
			delete(b.bans, ip)
			continue
		}
		out = append(out, ban)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}
