package wire

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// msgMainnetVersion is a BTVERSION of a node at the genesis block of mainnet.
func msgMainnetVersion() *BTVersion {
	g := *chaincfg.MainNetParams.GenesisHash
	return &BTVersion{
		Version:      ProtocolVersion,
		Services:     ServiceRelay | ServiceBlocks | ServiceBridged,
		Features:     FeatureShortHashes | FeatureUnsolicited | FeatureHeaderSync,
		NetworkMagic: uint32(chaincfg.MainNetParams.Net),
		TD:           []byte{0x01, 0x00, 0x01, 0x00, 0x01}, // work of the genesis block
		BestHash:     g,
		BestHeight:   0,
		GenesisHash:  g,
		Token:        Token{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
		UDPPort:      8334,
		Nonce:        0x0123456789abcdef,
		UserAgent:    "/blocktorrent:0.1.0/",
	}
}

func btversionSamples() []msgSample {
	minimal := &BTVersion{Version: 1, NetworkMagic: 0x0709110b, Token: Token{1}, UDPPort: 18334, Nonce: 1}
	full := msgMainnetVersion()
	full.Services, full.Features = ^uint64(0), ^uint64(0)
	full.TD = bytes.Repeat([]byte{0xff}, MaxTDLen)
	full.BestHash, full.BestHeight = msgHash("best"), 900000
	full.UserAgent = strings.Repeat("é", MaxUserAgentLen/2)
	return []msgSample{
		{name: "BTVERSION mainnet genesis", m: msgMainnetVersion()},
		{name: "BTVERSION zero work, no user agent", m: minimal},
		{name: "BTVERSION largest TD and user agent, unknown bits", m: full},
	}
}

// msgBTVersionWith returns the payload of msgMainnetVersion with TD and
// USER_AGENT given as raw length and bytes.
func msgBTVersionWith(tdLen uint64, td []byte, uaLen uint64, ua []byte) []byte {
	m := msgMainnetVersion()
	p := msgPayload(m)
	head := p[:24]
	mid := p[24+1+len(m.TD) : len(p)-1-len(m.UserAgent)]
	return mcat(head, mvi(tdLen), td, mid, mvi(uaLen), ua)
}

func btversionRejects() []msgReject {
	return []msgReject{
		{"BTVERSION TD_LEN 33", TypeBTVersion, msgBTVersionWith(33, bytes.Repeat([]byte{1}, 33), 0, nil), ErrLimit, false},
		{"BTVERSION TD with a leading zero", TypeBTVersion, msgBTVersionWith(2, []byte{0, 1}, 0, nil), ErrMalformed, false},
		{"BTVERSION TD of one zero byte", TypeBTVersion, msgBTVersionWith(1, []byte{0}, 0, nil), ErrMalformed, false},
		{"BTVERSION UA_LEN 257", TypeBTVersion, msgBTVersionWith(1, []byte{1}, 257, bytes.Repeat([]byte{'a'}, 257)), ErrLimit, false},
		{"BTVERSION user agent not UTF-8", TypeBTVersion, msgBTVersionWith(1, []byte{1}, 2, []byte{0xc3, 0x28}), ErrMalformed, false},
		{"BTVERSION UA_LEN beyond the payload", TypeBTVersion, msgBTVersionWith(1, []byte{1}, 10, []byte("abc")), ErrShort, false},
		{"BTVERSION non-canonical TD_LEN", TypeBTVersion, mcat(msgPayload(msgMainnetVersion())[:24], mhx("fd0500"), msgPayload(msgMainnetVersion())[25:]), ErrNonCanonical, false},
	}
}

func TestBTVersion(t *testing.T) { testMessageType(t, TypeBTVersion) }

func TestBTVersionTD(t *testing.T) {
	m := msgMainnetVersion()
	if got := m.TDInt(); got.Cmp(big.NewInt(0x100010001)) != 0 {
		t.Fatalf("TDInt = %v", got)
	}
	m.SetTD(new(big.Int))
	if m.TD != nil {
		t.Fatalf("zero TD = %x, want nil", m.TD)
	}
	x, _ := new(big.Int).SetString("0000000000000000000000000000000000000000b6b1a1a8b6c0e1dc5a4ee3a6", 16)
	m.SetTD(x)
	got, err := DecodeBTVersion(msgPayload(m))
	if err != nil || got.TDInt().Cmp(x) != 0 || got.TD[0] == 0 {
		t.Fatalf("TD round trip: %x %v", got.TD, err)
	}
	if _, err := DecodeBTVersion(msgPayload(m)); err != nil {
		t.Fatal(err)
	}
	// The largest payload fits the type's limit.
	full := btversionSamples()[2].m
	if n := len(msgPayload(full)); n > TypeBTVersion.MaxPayload() {
		t.Fatalf("largest BTVERSION %d bytes", n)
	}
	if _, err := DecodeBTVersion(nil); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
}
