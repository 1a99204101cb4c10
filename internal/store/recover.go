package store

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"go.etcd.io/bbolt"
)

// recover brings the block files in line with the index after the last
// process stopped, however abruptly, and returns where the next record
// goes. Bytes past a file's indexed length are truncated and files past the
// last indexed one are removed: they are all a write whose index commit
// never happened. A file shorter than its indexed length (damage from
// outside) has its entries past the end marked as having no data, and the
// next record goes into a new file.
func (s *Store) recover() (fileMark, error) {
	var sizes map[uint32]int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		ix, err := newIndex(tx)
		if err != nil {
			return err
		}
		sizes, err = ix.fileSizes()
		return err
	})
	if err != nil {
		return fileMark{}, err
	}
	last, indexed := uint32(0), len(sizes) > 0
	for n := range sizes {
		last = max(last, n)
	}

	dirents, err := os.ReadDir(s.files.dir)
	if err != nil {
		return fileMark{}, fmt.Errorf("store: %w", err)
	}
	onDisk := make(map[uint32]int64)
	removed := false
	for _, de := range dirents {
		n, ok := parseBlockFileName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return fileMark{}, fmt.Errorf("store: %w", err)
		}
		size := fi.Size()
		want, known := sizes[n]
		switch {
		case !known && (!indexed || n > last):
			s.log.Info("removing a block file no committed block uses", "file", de.Name(), "bytes", size)
			if err := os.Remove(s.files.path(n)); err != nil {
				return fileMark{}, fmt.Errorf("store: %w", err)
			}
			removed = true
			continue
		case !known:
			s.log.Warn("block file unknown to the index left alone", "file", de.Name())
		case size > want:
			s.log.Info("truncating the unindexed tail of a block file", "file", de.Name(), "bytes", size-want)
			if err := truncateSync(s.files.path(n), want); err != nil {
				return fileMark{}, fmt.Errorf("store: %w", err)
			}
			size = want
		}
		onDisk[n] = size
	}
	if removed {
		if err := syncDir(s.files.dir); err != nil {
			return fileMark{}, fmt.Errorf("store: %w", err)
		}
	}

	var short []uint32
	for n, want := range sizes {
		if onDisk[n] < want {
			short = append(short, n)
		}
	}
	if !indexed {
		return fileMark{}, nil
	}
	if len(short) == 0 {
		return fileMark{num: last, size: sizes[last]}, nil
	}
	slices.Sort(short)
	if err := s.markMissing(short, onDisk); err != nil {
		return fileMark{}, err
	}
	if slices.Contains(short, last) {
		// Never write where an old entry pointed: start a fresh file.
		return fileMark{num: last + 1, size: 0}, nil
	}
	return fileMark{num: last, size: sizes[last]}, nil
}

// markMissing marks the entries whose records lie past the end of a short
// file as having no data, and records the files' actual lengths.
func (s *Store) markMissing(short []uint32, onDisk map[uint32]int64) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		ix, err := newIndex(tx)
		if err != nil {
			return err
		}
		var lost []chainhash.Hash
		var lostEntries []entry
		err = ix.blocks.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			if len(k) != chainhash.HashSize {
				return fmt.Errorf("%w: index key of %d bytes", ErrCorrupt, len(k))
			}
			if !e.hasData() || !slices.Contains(short, e.file) {
				return nil
			}
			if int64(e.offset)+int64(e.length) > onDisk[e.file] {
				lost = append(lost, chainhash.Hash(k))
				lostEntries = append(lostEntries, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range lost {
			e := &lostEntries[i]
			e.file, e.offset, e.length = noFile, 0, 0
			if err := ix.put(&lost[i], e); err != nil {
				return err
			}
		}
		for _, n := range short {
			if err := ix.setFileSize(n, onDisk[n]); err != nil {
				return err
			}
			s.log.Warn("block file shorter than the index says; its missing blocks must be fetched again",
				"file", blockFileName(n), "bytes", onDisk[n])
		}
		if len(lost) > 0 {
			s.log.Warn("blocks without data after recovery", "count", len(lost))
		}
		return nil
	})
}

// truncateSync truncates a file and makes the new length durable.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
