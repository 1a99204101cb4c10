package linkemu

import (
	"os"
	"sync"
	"time"
)

// deadline is a settable write deadline that blocked writers honour, also
// when it is changed while they wait, as net.Conn requires.
type deadline struct {
	mu      sync.Mutex
	t       time.Time     // zero means none
	changed chan struct{} // closed and replaced by set; nil until needed
}

// set changes the deadline and wakes the goroutines waiting on it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

// get returns the deadline and a channel closed when it next changes.
func (d *deadline) get() (time.Time, chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return d.t, d.changed
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.t.IsZero() && !time.Now().Before(d.t)
}

// wait blocks until ready or stop is closed, and then returns nil, or until
// the deadline passes, and then returns os.ErrDeadlineExceeded. A nil
// deadline never expires.
func (d *deadline) wait(ready, stop <-chan struct{}) error {
	if d == nil {
		select {
		case <-ready:
		case <-stop:
		}
		return nil
	}
	for {
		if again, err := d.waitOnce(ready, stop); !again {
			return err
		}
	}
}

// waitOnce is one round of wait under the current deadline; again reports
// that the deadline changed and the round must be repeated.
func (d *deadline) waitOnce(ready, stop <-chan struct{}) (again bool, err error) {
	t, changed := d.get()
	var expire <-chan time.Time
	if !t.IsZero() {
		left := time.Until(t)
		if left <= 0 {
			return false, os.ErrDeadlineExceeded
		}
		timer := time.NewTimer(left)
		defer timer.Stop()
		expire = timer.C
	}
	select {
	case <-ready:
		return false, nil
	case <-stop:
		return false, nil
	case <-changed:
		return true, nil
	case <-expire:
		return false, os.ErrDeadlineExceeded
	}
}
