package wire

import (
	"errors"
	"net/netip"
	"testing"
)

func btaddrSamples() []msgSample {
	mixed := &BTAddr{Entries: []BTAddrEntry{
		{Addr: netip.MustParseAddrPort("203.0.113.7:8333"), Services: ServiceRelay | ServiceBlocks, LastSeen: 1700000000},
		{Addr: netip.MustParseAddrPort("[2001:db8::1]:8334"), Services: ServiceRelay, LastSeen: 1700000001},
		{Addr: netip.MustParseAddrPort("[::ffff:198.51.100.1]:65535"), Services: 0, LastSeen: 0},
		{Addr: netip.MustParseAddrPort("0.0.0.0:0"), Services: ^uint64(0), LastSeen: ^uint32(0)},
	}}
	full := &BTAddr{Entries: make([]BTAddrEntry, MaxBTAddrCount)}
	for i := range full.Entries {
		var a [16]byte
		a[0], a[1], a[14], a[15] = 0x20, 0x01, byte(i>>8), byte(i)
		full.Entries[i] = BTAddrEntry{Addr: netip.AddrPortFrom(netip.AddrFrom16(a), uint16(i)), Services: uint64(i), LastSeen: uint32(i)}
	}
	return []msgSample{
		{name: "BTADDR of IPv4, IPv6 and IPv4-mapped peers", m: mixed},
		{name: "BTADDR empty", m: &BTAddr{}},
		{name: "BTADDR of 1,000 IPv6 peers", m: full, noVector: true},
	}
}

func btaddrRejects() []msgReject {
	entry4 := mhx("04 cb007107 208d 0300000000000000 00f15365")
	return []msgReject{
		{"BTADDR COUNT 1001", TypeBTAddr, mvi(1001), ErrLimit, false},
		{"BTADDR family 5", TypeBTAddr, mcat(mvi(1), []byte{5}, entry4[1:]), ErrReserved, false},
		{"BTADDR family 0", TypeBTAddr, mcat(mvi(1), []byte{0}, entry4[1:]), ErrReserved, false},
		{"BTADDR family 6 with an IPv4 body", TypeBTAddr, mcat(mvi(1), []byte{6}, entry4[1:]), ErrShort, false},
		{"BTADDR COUNT 2 with one entry", TypeBTAddr, mcat(mvi(2), entry4, []byte{4, 1, 2, 3}), ErrShort, false},
		{"BTADDR COUNT beyond the payload", TypeBTAddr, mcat(mvi(2), entry4), ErrShort, false},
	}
}

func TestBTAddr(t *testing.T) {
	testMessageType(t, TypeBTAddr)
	// The sample's first entry is entry4 of the rejects.
	p := msgPayload(btaddrSamples()[0].m)
	if got := p[1:20]; string(got) != string(mhx("04 cb007107 208d 0300000000000000 00f15365")) {
		t.Fatalf("IPv4 entry %x", got)
	}
	// A zoned or invalid address is written without its zone, as ::.
	m := &BTAddr{Entries: []BTAddrEntry{{Addr: netip.MustParseAddrPort("[fe80::1%eth0]:1")}, {}}}
	got, err := DecodeBTAddr(msgPayload(m))
	if err != nil || got.Entries[0].Addr != netip.MustParseAddrPort("[fe80::1]:1") || got.Entries[1].Addr != netip.MustParseAddrPort("[::]:0") {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := DecodeBTAddr(mvi(MaxBTAddrCount + 1)); !errors.Is(err, ErrLimit) {
		t.Fatal(err)
	}
}
