package session

import (
	"testing"

	"github.com/blocktorrent/blocktorrent/internal/job"
)

// TestReasonsMatchJob keeps the session's penalty reasons in the job
// engine's vocabulary: SoftReason must recognise the engine's stall, and
// the session's protocol violations must score as the engine's do.
func TestReasonsMatchJob(t *testing.T) {
	if !SoftReason(job.ReasonStall) {
		t.Fatalf("SoftReason(%q) = false", job.ReasonStall)
	}
	for _, r := range []string{job.ReasonProtocol, job.ReasonUnrequested, job.ReasonBadPoW, job.ReasonMutated, job.ReasonInvalidRun, job.ReasonInvalidBody} {
		if SoftReason(r) {
			t.Fatalf("SoftReason(%q) = true", r)
		}
	}
	if reasonProtocol != job.ReasonProtocol {
		t.Fatalf("reasonProtocol %q, job.ReasonProtocol %q", reasonProtocol, job.ReasonProtocol)
	}
}
