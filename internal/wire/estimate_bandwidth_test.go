package wire

import "testing"

func estimateBandwidthSamples() []msgSample {
	return []msgSample{
		{name: "ESTIMATE_BANDWIDTH train", m: &EstimateBandwidth{Kind: KindProbe, Base: 1000, Count: 32, Size: 1200}},
		{name: "ESTIMATE_BANDWIDTH result", m: &EstimateBandwidth{Kind: KindResult, Base: 1000, Count: 32, Size: 1200, Rate: 48000000}},
		{name: "ESTIMATE_BANDWIDTH extremes", m: &EstimateBandwidth{Kind: KindResult, Base: ^uint64(0), Count: MaxTrainCount, Size: MaxProbeSize, Rate: ^uint64(0)}},
		{name: "ESTIMATE_BANDWIDTH smallest train", m: &EstimateBandwidth{Kind: KindProbe, Count: MinTrainCount, Size: MinProbeSize}},
	}
}

func estimateBandwidthRejects() []msgReject {
	mk := func(kind uint8, count, size uint16) []byte {
		return msgPayload(&EstimateBandwidth{Kind: kind, Base: 7, Count: count, Size: size})
	}
	return []msgReject{
		{"ESTIMATE_BANDWIDTH kind 2", TypeEstimateBandwidth, mk(2, 32, 1200), ErrReserved, false},
		{"ESTIMATE_BANDWIDTH COUNT 1", TypeEstimateBandwidth, mk(0, 1, 1200), ErrLimit, false},
		{"ESTIMATE_BANDWIDTH COUNT 257", TypeEstimateBandwidth, mk(0, 257, 1200), ErrLimit, false},
		{"ESTIMATE_BANDWIDTH SIZE 63", TypeEstimateBandwidth, mk(0, 32, 63), ErrLimit, false},
		{"ESTIMATE_BANDWIDTH SIZE 1473", TypeEstimateBandwidth, mk(0, 32, 1473), ErrLimit, false},
	}
}

func TestEstimateBandwidth(t *testing.T) {
	testMessageType(t, TypeEstimateBandwidth)
	if n := len(msgPayload(&EstimateBandwidth{})); n != EstimateBandwidthSize {
		t.Fatalf("payload %d bytes", n)
	}
}
