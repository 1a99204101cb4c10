package wire

import "testing"

func getHeadersSamples() []msgSample {
	return []msgSample{
		{name: "GET_HEADERS 2,000", m: &GetHeaders{Hash: msgHash("tip"), Max: MaxHeaders}},
		{name: "GET_HEADERS one", m: &GetHeaders{Hash: msgHash("tip"), Max: 1}},
	}
}

func getHeadersRejects() []msgReject {
	h := msgHash("tip")
	return []msgReject{
		{"GET_HEADERS MAX 0", TypeGetHeaders, mcat(h[:], mvi(0)), ErrLimit, false},
		{"GET_HEADERS MAX 2,001", TypeGetHeaders, mcat(h[:], mvi(MaxHeaders+1)), ErrLimit, false},
		{"GET_HEADERS 8-byte MAX", TypeGetHeaders, mcat(h[:], mvi(1<<40)), ErrLimit, false},
	}
}

func TestGetHeaders(t *testing.T) { testMessageType(t, TypeGetHeaders) }
