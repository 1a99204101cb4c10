package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// recordPrefix is the size of a record's magic and length.
const recordPrefix = 8

// blockFileName returns the name of block file n.
func blockFileName(n uint32) string { return fmt.Sprintf("blk%05d.dat", n) }

// parseBlockFileName returns the number of a block file name.
func parseBlockFileName(name string) (uint32, bool) {
	digits, ok := strings.CutPrefix(name, "blk")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".dat")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || blockFileName(uint32(n)) != name {
		return 0, false
	}
	return uint32(n), true
}

// blockFiles appends records to the block files and reads them back. The
// writer state (head, headNum, headSize, pending, created) belongs to the
// Store's writer mutex; the read handles have their own lock.
type blockFiles struct {
	dir     string
	magic   uint32
	maxSize int64

	head     *os.File
	headNum  uint32
	headSize int64
	// pending holds the new indexed length of every file written since
	// the last commit.
	pending map[uint32]int64
	// created lists the files started since the last commit.
	created []uint32

	mu      sync.Mutex
	readers map[uint32]*os.File
}

// fileMark is the writer's position, to return to when a write is undone.
type fileMark struct {
	num  uint32
	size int64
}

func newBlockFiles(dir string, magic uint32, maxSize int64) *blockFiles {
	return &blockFiles{
		dir:     dir,
		magic:   magic,
		maxSize: maxSize,
		pending: make(map[uint32]int64),
		readers: make(map[uint32]*os.File),
	}
}

// path returns the path of block file n.
func (bf *blockFiles) path(n uint32) string { return filepath.Join(bf.dir, blockFileName(n)) }

// openHead makes file n, at length size, the file records are appended to.
// The file is created if it does not exist. On error the old head stays.
func (bf *blockFiles) openHead(n uint32, size int64) error {
	_, statErr := os.Stat(bf.path(n))
	f, err := os.OpenFile(bf.path(n), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(bf.dir); err != nil {
			f.Close()
			return err
		}
	}
	if bf.head != nil {
		bf.head.Close()
	}
	bf.head, bf.headNum, bf.headSize = f, n, size
	return nil
}

// mark returns the writer's position.
func (bf *blockFiles) mark() fileMark { return fileMark{bf.headNum, bf.headSize} }

// write appends one record holding raw and returns where raw lies. It does
// not sync. When the record would take the head file past maxSize, the head
// file is synced and the next one started first.
func (bf *blockFiles) write(raw []byte) (file, offset uint32, err error) {
	rec := int64(recordPrefix + len(raw))
	if bf.headSize > 0 && bf.headSize+rec > bf.maxSize {
		if err := bf.head.Sync(); err != nil {
			return 0, 0, err
		}
		n := bf.headNum + 1
		// A file of that number can only be an unindexed leftover.
		if err := os.Remove(bf.path(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, 0, err
		}
		if err := bf.openHead(n, 0); err != nil {
			return 0, 0, err
		}
		bf.created = append(bf.created, n)
	}
	var prefix [recordPrefix]byte
	binary.LittleEndian.PutUint32(prefix[0:], bf.magic)
	binary.LittleEndian.PutUint32(prefix[4:], uint32(len(raw)))
	if _, err := bf.head.WriteAt(prefix[:], bf.headSize); err != nil {
		return 0, 0, err
	}
	if _, err := bf.head.WriteAt(raw, bf.headSize+recordPrefix); err != nil {
		return 0, 0, err
	}
	file, offset = bf.headNum, uint32(bf.headSize+recordPrefix)
	bf.headSize += rec
	bf.pending[bf.headNum] = bf.headSize
	return file, offset, nil
}

// sync makes every record written since the last commit durable (files
// left behind by a roll were synced when they were left).
func (bf *blockFiles) sync() error {
	if len(bf.pending) == 0 {
		return nil
	}
	return bf.head.Sync()
}

// committed forgets the pending state once the index has recorded it.
func (bf *blockFiles) committed() {
	clear(bf.pending)
	bf.created = bf.created[:0]
}

// rollback returns the writer to m after a failed write or commit. The
// bytes written since are unindexed: they are overwritten by the next
// write, and truncated by the next Open if the process stops first. Files
// started since m are removed.
func (bf *blockFiles) rollback(m fileMark) error {
	clear(bf.pending)
	created := bf.created
	bf.created = bf.created[:0]
	if bf.headNum == m.num {
		bf.headSize = m.size
		return nil
	}
	keep := noFile
	err := bf.openHead(m.num, m.size)
	if err != nil {
		// Stay in the new file, from its start: the index knows nothing
		// of it, so its bytes are free.
		keep, bf.headSize = bf.headNum, 0
	}
	errs := []error{err}
	for _, n := range created {
		if n == keep {
			continue
		}
		if err := os.Remove(bf.path(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// read returns the serialized block of e after checking the record's
// prefix and header against e.
func (bf *blockFiles) read(e *entry) ([]byte, error) {
	f, err := bf.reader(e.file)
	if err != nil {
		return nil, err
	}
	if e.offset < recordPrefix {
		return nil, fmt.Errorf("%w: record offset %d in %s", ErrCorrupt, e.offset, blockFileName(e.file))
	}
	buf := make([]byte, recordPrefix+int(e.length))
	if _, err := f.ReadAt(buf, int64(e.offset)-recordPrefix); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: record at %d past the end of %s", ErrCorrupt, e.offset, blockFileName(e.file))
		}
		return nil, err
	}
	magic := binary.LittleEndian.Uint32(buf[0:])
	length := binary.LittleEndian.Uint32(buf[4:])
	raw := buf[recordPrefix:]
	if magic != bf.magic || length != e.length || len(raw) < headerSize || [headerSize]byte(raw[:headerSize]) != e.header {
		return nil, fmt.Errorf("%w: record at %d in %s does not match the index", ErrCorrupt, e.offset, blockFileName(e.file))
	}
	return raw, nil
}

// reader returns a shared read-only handle of file n.
func (bf *blockFiles) reader(n uint32) (*os.File, error) {
	bf.mu.Lock()
	defer bf.mu.Unlock()
	if f, ok := bf.readers[n]; ok {
		return f, nil
	}
	f, err := os.Open(bf.path(n))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	bf.readers[n] = f
	return f, nil
}

// close closes every handle.
func (bf *blockFiles) close() error {
	var errs []error
	if bf.head != nil {
		errs = append(errs, bf.head.Close())
		bf.head = nil
	}
	bf.mu.Lock()
	defer bf.mu.Unlock()
	for n, f := range bf.readers {
		errs = append(errs, f.Close())
		delete(bf.readers, n)
	}
	return errors.Join(errs...)
}

// syncDir fsyncs a directory so that the entries created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
