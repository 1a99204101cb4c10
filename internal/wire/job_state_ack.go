package wire

// JobStateAck is JOB_STATE_ACK (UDP 0x44): the same layout as JOB_STATE,
// echoing the JOB_ID, STATE_SEQ and workouts it acknowledges. Convert with
// JobStateAck(state) to echo a JobState.
type JobStateAck JobState

// Type returns TypeJobStateAck.
func (*JobStateAck) Type() MsgType { return TypeJobStateAck }

// Append appends the payload; the workouts are written hashless.
func (m *JobStateAck) Append(b []byte) []byte { return (*JobState)(m).Append(b) }

// DecodeJobStateAck decodes a JOB_STATE_ACK payload, with the checks of
// DecodeJobState.
func DecodeJobStateAck(payload []byte) (*JobStateAck, error) {
	m := &JobStateAck{}
	if err := (*JobState)(m).decode(payload, "JOB_STATE_ACK"); err != nil {
		return nil, err
	}
	return m, nil
}
