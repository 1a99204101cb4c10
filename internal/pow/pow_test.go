package pow

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

func TestCheck(t *testing.T) {
	main := chaincfg.MainNetParams
	reg := chaincfg.RegressionNetParams
	gen := main.GenesisBlock.Header
	bad := gen
	bad.Nonce++ // almost surely no longer meets the mainnet target
	high := reg.GenesisBlock.Header
	high.Bits = 0x2100ffff // above regtest's limit
	zero := gen
	zero.Bits = 0
	tests := []struct {
		name string
		fn   func() error
		want error
	}{
		{"mainnet genesis", func() error { return Check(&gen, main.PowLimit) }, nil},
		{"regtest genesis", func() error { return Check(&reg.GenesisBlock.Header, reg.PowLimit) }, nil},
		{"regtest genesis under mainnet limit", func() error { return Check(&reg.GenesisBlock.Header, main.PowLimit) }, ErrBadTarget},
		{"nonce changed", func() error { return Check(&bad, main.PowLimit) }, ErrHighHash},
		{"target above limit", func() error { return Check(&high, reg.PowLimit) }, ErrBadTarget},
		{"zero target", func() error { return Check(&zero, main.PowLimit) }, ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if w := Work(gen.Bits); w.Int64() != 4295032833 {
		t.Fatalf("work of the genesis bits = %v, want 4295032833", w)
	}
}

func TestCheckContext(t *testing.T) {
	tests := []struct {
		name      string
		bits, ref uint32
		want      error
	}{
		{"same difficulty", 0x1703a30c, 0x1703a30c, nil},
		{"four times easier: the largest retarget", 0x170e8c30, 0x1703a30c, nil},
		{"just over four times easier", 0x170e8c31, 0x1703a30c, ErrTooEasy},
		{"harder", 0x1700a30c, 0x1703a30c, nil},
		{"minimum difficulty on a 2026 chain", 0x1d00ffff, 0x1703a30c, ErrTooEasy},
		{"minimum difficulty on the early chain", 0x1d00ffff, 0x1d00ffff, nil},
		{"zero target", 0, 0x1d00ffff, ErrBadTarget},
		{"zero reference", 0x1d00ffff, 0, ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckContext(tt.bits, tt.ref)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
