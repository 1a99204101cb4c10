package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"go.etcd.io/bbolt"
)

// MaxBlockBytes is the largest serialized block the store accepts and the
// largest record length an import stream may hold.
const MaxBlockBytes = 4_000_000

// DefaultMaxFileSize is the size at which a block file is left for the next.
const DefaultMaxFileSize = 128 << 20

// maxMaxFileSize keeps record offsets within the index's 32 bits.
const maxMaxFileSize = 1 << 30

// defaultLockTimeout is how long Open waits for another process's lock.
const defaultLockTimeout = time.Second

// Options tunes a store. The zero value gives the defaults.
type Options struct {
	// MaxFileSize is the size a block file may reach before the next one
	// is started (a single record larger than that gets a file of its
	// own). Zero means DefaultMaxFileSize; at most 1 GiB.
	MaxFileSize int64
	// Logger receives recovery, reorganization and import messages. Nil
	// means slog.Default().
	Logger *slog.Logger
	// LockTimeout is how long Open waits for another process to release
	// the store. Zero means one second.
	LockTimeout time.Duration
}

// Store is a block store; see the package documentation.
type Store struct {
	params *chaincfg.Params
	dir    string
	log    *slog.Logger
	db     *bbolt.DB
	files  *blockFiles

	// writeMu serializes writers and owns the files' writer state.
	writeMu sync.Mutex
	// mu guards closed: readers hold it shared, Close exclusively.
	mu     sync.RWMutex
	closed bool

	// tip is the best chain's tip, swapped after each commit.
	tip atomic.Pointer[tipState]
}

// tipState is the best chain's tip. It is never modified once published.
type tipState struct {
	hash   chainhash.Hash
	height int32
	work   *big.Int
}

// Open opens the store in dir for the network params describe, creating
// it (with the genesis block) if dir holds none, and recovering it if the
// last process using it stopped abruptly.
func Open(dir string, params *chaincfg.Params) (*Store, error) {
	return OpenWith(dir, params, Options{})
}

// OpenWith is Open with options.
func OpenWith(dir string, params *chaincfg.Params, opts Options) (*Store, error) {
	if params == nil || params.GenesisBlock == nil || params.GenesisHash == nil || params.PowLimit == nil {
		return nil, errors.New("store: incomplete chain parameters")
	}
	if opts.MaxFileSize == 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.MaxFileSize < 0 || opts.MaxFileSize > maxMaxFileSize {
		return nil, fmt.Errorf("store: MaxFileSize %d outside 1..%d", opts.MaxFileSize, maxMaxFileSize)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	blocksDir := filepath.Join(dir, "blocks")
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(blocksDir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	db, err := bbolt.Open(filepath.Join(dir, "index.db"), 0o644, &bbolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrInUse, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("store: index: %w", err)
	}
	// bbolt syncs its file but not the directory entry of a new one;
	// this also covers the blocks directory.
	if err := syncDir(dir); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{
		params: params,
		dir:    dir,
		log:    opts.Logger.With("component", "store"),
		db:     db,
		files:  newBlockFiles(blocksDir, uint32(params.Net), opts.MaxFileSize),
	}
	if err := s.init(); err != nil {
		s.files.close()
		db.Close()
		return nil, err
	}
	return s, nil
}

// init creates the buckets, checks the network, recovers the block files,
// stores the genesis block of a new store and loads the tip.
func (s *Store) init() error {
	fresh := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketBlocks, bucketHeights, bucketFiles, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyTip) == nil {
			fresh = true
			return nil
		}
		net, genesis := meta.Get(keyNet), meta.Get(keyGenesis)
		if len(net) != 4 || uint32(s.params.Net) != binary.BigEndian.Uint32(net) || string(genesis) != string(s.params.GenesisHash[:]) {
			return fmt.Errorf("%w: %s was created for another network than %s", ErrWrongNetwork, s.dir, s.params.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	head, err := s.recover()
	if err != nil {
		return err
	}
	if err := s.files.openHead(head.num, head.size); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fresh {
		if err := s.storeGenesis(); err != nil {
			return err
		}
	}
	return s.loadTip()
}

// storeGenesis writes the genesis record and indexes it as the tip.
func (s *Store) storeGenesis() error {
	gen := s.params.GenesisBlock
	it, err := s.prepare(gen, nil)
	if err != nil {
		return err
	}
	if it.hash != *s.params.GenesisHash {
		return fmt.Errorf("store: genesis block hashes to %v, parameters say %v", it.hash, s.params.GenesisHash)
	}
	mark := s.files.mark()
	err = s.db.Update(func(tx *bbolt.Tx) error {
		ix, err := newIndex(tx)
		if err != nil {
			return err
		}
		e := entry{length: uint32(len(it.raw)), header: it.header, work: workOf(it.bits)}
		if e.file, e.offset, err = s.files.write(it.raw); err != nil {
			return err
		}
		if err := ix.put(&it.hash, &e); err != nil {
			return err
		}
		if err := ix.setHeight(0, it.hash); err != nil {
			return err
		}
		for _, kv := range [][2][]byte{
			{keyVersion, binary.BigEndian.AppendUint32(nil, indexVersion)},
			{keyNet, binary.BigEndian.AppendUint32(nil, uint32(s.params.Net))},
			{keyGenesis, it.hash.CloneBytes()},
			{keyTip, it.hash.CloneBytes()},
		} {
			if err := ix.meta.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if err := s.recordFileSizes(ix); err != nil {
			return err
		}
		return s.files.sync()
	})
	if err != nil {
		s.files.rollback(mark)
		return fmt.Errorf("store: storing the genesis block: %w", err)
	}
	s.files.committed()
	return nil
}

// loadTip reads the tip from the index.
func (s *Store) loadTip() error {
	return s.db.View(func(tx *bbolt.Tx) error {
		ix, err := newIndex(tx)
		if err != nil {
			return err
		}
		hash, ok := ix.tip()
		if !ok {
			return fmt.Errorf("%w: no tip", ErrCorrupt)
		}
		e, ok, err := ix.get(&hash)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: tip %v not indexed", ErrCorrupt, hash)
		}
		if at, ok := ix.atHeight(e.height); !ok || at != hash {
			return fmt.Errorf("%w: tip %v not at its height %d", ErrCorrupt, hash, e.height)
		}
		s.tip.Store(&tipState{hash: hash, height: e.height, work: e.work})
		return nil
	})
}

// Close closes the store after waiting for running reads and writes.
// Later calls return ErrClosed, except Tip, which keeps reporting the last
// tip. Closing twice is not an error.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.files.close(), s.db.Close())
}

// Params returns the chain parameters the store was opened with.
func (s *Store) Params() *chaincfg.Params { return s.params }

// recordFileSizes writes the pending block file lengths into the index.
func (s *Store) recordFileSizes(ix index) error {
	for n, size := range s.files.pending {
		if err := ix.setFileSize(n, size); err != nil {
			return err
		}
	}
	return nil
}
