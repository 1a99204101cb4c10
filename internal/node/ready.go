package node

// Ready reports whether the node has at least want peers and has measured
// the path to each of them (RTT and bottleneck rate), so pacing runs at the
// measured rate.
func (n *Node) Ready(want int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sessions) < want {
		return false
	}
	for _, s := range n.sessions {
		if !s.Probed() {
			return false
		}
	}
	return true
}
