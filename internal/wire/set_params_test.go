package wire

import "testing"

func setParamsSamples() []msgSample {
	def := DefaultSetParams()
	return []msgSample{
		{name: "SET_PARAMS defaults", m: &def},
		{name: "SET_PARAMS limited home user", m: &SetParams{Role: RoleLimited, Priority: 0, MaxUnsolicited: 0, MaxRate: 20000000, MaxDatagram: 1200, MaxJobs: 2}},
		{name: "SET_PARAMS relay, no limits", m: &SetParams{Role: RoleRelay, Priority: 255, MaxUnsolicited: NoLimit, MaxRate: 0, MaxDatagram: MaxDatagramSize, MaxJobs: 64}},
		{name: "SET_PARAMS miner, large MAX_DATAGRAM", m: &SetParams{Role: RoleMiner, Priority: 7, MaxUnsolicited: 1 << 20, MaxRate: ^uint64(0), MaxDatagram: 0xffff, MaxJobs: 0}},
	}
}

func setParamsRejects() []msgReject {
	p := msgPayload(&SetParams{Role: RoleNode, MaxDatagram: 1200, MaxJobs: 8})
	role4 := mcat([]byte{4}, p[1:])
	small := mcat(p[:14], AppendUint16(nil, 1199), p[16:])
	return []msgReject{
		{"SET_PARAMS role 4", TypeSetParams, role4, ErrReserved, false},
		{"SET_PARAMS MAX_DATAGRAM 1199", TypeSetParams, small, ErrLimit, false},
		{"SET_PARAMS MAX_DATAGRAM 0", TypeSetParams, mcat(p[:14], []byte{0, 0}, p[16:]), ErrLimit, false},
	}
}

func TestSetParams(t *testing.T) {
	testMessageType(t, TypeSetParams)
	def := DefaultSetParams()
	if n := len(msgPayload(&def)); n != SetParamsSize {
		t.Fatalf("payload %d bytes", n)
	}
	if def.MaxUnsolicited != 262144 || def.MaxDatagram != 1200 || def.MaxJobs != 8 || def.Role != RoleNode {
		t.Fatalf("defaults %+v", def)
	}
	if RoleMiner.String() != "miner" || Role(9).String() != "Role(9)" {
		t.Error("role names")
	}
}
