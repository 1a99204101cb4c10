package linkemu

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestProfileValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		ok   bool
	}{
		{"zero", Profile{}, true},
		{"full", Profile{Delay: time.Second, Jitter: time.Millisecond, Loss: 1, RateBps: 1, QueueBytes: 1, Seed: -5}, true},
		{"negative delay", Profile{Delay: -1}, false},
		{"negative jitter", Profile{Jitter: -1}, false},
		{"loss below 0", Profile{Loss: -0.01}, false},
		{"loss above 1", Profile{Loss: 1.01}, false},
		{"loss NaN", Profile{Loss: math.NaN()}, false},
		{"negative rate", Profile{RateBps: -1}, false},
		{"negative queue", Profile{QueueBytes: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadProfile) {
				t.Fatalf("Validate() = %v, does not wrap ErrBadProfile", err)
			}
			l, err := NewLink(tc.p, (&sink{}).deliver)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("NewLink error = %v", err)
			case tc.ok:
				l.Close()
			case !errors.Is(err, ErrBadProfile):
				t.Fatalf("NewLink error = %v, want ErrBadProfile", err)
			}
		})
	}
}

func TestNewLinkNilDeliver(t *testing.T) {
	if _, err := NewLink(Profile{}, nil); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("NewLink(nil deliver) error = %v, want ErrBadArgument", err)
	}
}

func TestDefaultQueueBytes(t *testing.T) {
	tests := []struct {
		rate int64
		want int
	}{
		{0, MinQueueBytes},
		{1_000_000, MinQueueBytes},     // 100 ms = 12.5 kB
		{10_000_000, 125_000},          // 100 ms = 125 kB
		{1_000_000_000, 12_500_000},    // 100 ms = 12.5 MB
		{math.MaxInt64, math.MaxInt32}, // saturates
	}
	for _, tc := range tests {
		if got := DefaultQueueBytes(tc.rate); got != tc.want {
			t.Errorf("DefaultQueueBytes(%d) = %d, want %d", tc.rate, got, tc.want)
		}
		if got := (Profile{RateBps: tc.rate}).withDefaults().QueueBytes; got != tc.want {
			t.Errorf("withDefaults().QueueBytes at %d bit/s = %d, want %d", tc.rate, got, tc.want)
		}
	}
	if got := (Profile{QueueBytes: 7}).withDefaults().QueueBytes; got != 7 {
		t.Errorf("withDefaults() changed an explicit QueueBytes to %d", got)
	}
}

func TestTxTime(t *testing.T) {
	tests := []struct {
		size int64
		rate int64
		want time.Duration
	}{
		{1250, 10_000_000, time.Millisecond},
		{0, 1000, 0},
		{1, 8, time.Second},
		{1, 3, 2666666667}, // 8/3 s rounded up
		{1500, 1_000_000_000, 12 * time.Microsecond},
		{1 << 40, 1, math.MaxInt64}, // saturates instead of overflowing
	}
	for _, tc := range tests {
		if got := txTime(tc.size, tc.rate); got != tc.want {
			t.Errorf("txTime(%d, %d) = %v, want %v", tc.size, tc.rate, got, tc.want)
		}
	}
}

func TestRTO(t *testing.T) {
	tests := []struct {
		delay, want time.Duration
	}{
		{0, 200 * time.Millisecond},
		{50 * time.Millisecond, 200 * time.Millisecond},
		{100 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := (Profile{Delay: tc.delay}).RTO(); got != tc.want {
			t.Errorf("RTO at delay %v = %v, want %v", tc.delay, got, tc.want)
		}
	}
}

func TestProfileString(t *testing.T) {
	p := Profile{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01, RateBps: 10_000_000, Seed: 1}
	const want = "delay=20ms jitter=5ms loss=1% rate=10Mbit/s queue=default seed=1"
	if got := p.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
