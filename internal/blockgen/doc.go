// Package blockgen makes realistic, deterministic Bitcoin blocks for tests,
// the demo and the benchmark lab: a coinbase followed by transactions whose
// sizes follow a mainnet-like mix (mostly one- and two-input payments, some
// batched payouts and consolidations, a few large transactions), optionally
// a share of segwit (P2WPKH) spends with the coinbase's BIP141 witness
// commitment, and a header whose proof of work meets the given bits. Scripts hold random bytes
// of realistic lengths, not valid signatures: relay moves and checks bytes
// and merkle hashes, not scripts. The package is stateless.
package blockgen
