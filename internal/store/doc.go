// Package store keeps the blocks a Blocktorrent node holds: the block bodies
// it serves to peers that download the chain (docs/protocol.md §9
// GET_BLOCKS), the headers it serves as HEADERS and BLOCK_HASHES, and the
// best chain whose tip and total work the node announces in BTVERSION.
//
// # Layout
//
// A store is a directory holding two things:
//
//   - blocks/blk00000.dat, blk00001.dat, ...: append-only block files in the
//     format of Bitcoin Core's blk*.dat. Each record is the network magic
//     (4 bytes, little endian), the block's length (4 bytes, little endian)
//     and the serialized block. A file is closed and the next one started
//     once the next record would take it past Options.MaxFileSize
//     (128 MiB by default).
//   - index.db: a bbolt database. Bucket "blocks" maps a block hash to where
//     the block lies (file, offset, length), its height, its 80-byte header
//     (which holds the parent's hash) and the cumulative chain work up to
//     and including it. Bucket "heights" maps each height of the best chain
//     to its block hash. Bucket "files" holds, for each block file, the
//     length of its indexed prefix. Bucket "meta" holds the network, the
//     genesis hash and the tip.
//
// The best chain is the chain with the most cumulative work; a block that
// brings strictly more work than the tip becomes the new tip and the height
// mapping is rewritten down to the fork point (a reorganization). Open
// creates the genesis entry from the chain parameters.
//
// # What is checked
//
// Put accepts a block whose parent is already stored (ErrOrphan otherwise),
// whose header meets its own proof-of-work target within the network's
// limit, whose serialized size is at most MaxBlockBytes, and whose merkle
// root matches its transactions without the CVE-2012-2459 mutation
// (ErrBadBlock otherwise). It does not check consensus rules beyond that:
// difficulty retargeting, timestamps, scripts and the witness commitment are
// the full node's business. A store is therefore as trustworthy as the work
// its chain shows.
//
// # Durability
//
// When Put or PutBatch returns nil, the blocks it added are durable: their
// records are written and the block file is fsynced first, and only then is
// the bbolt transaction that indexes them committed (bbolt fsyncs its file
// on commit). A new block file's directory entry is fsynced when the file is
// created. PutBatch is atomic: either every new block of the batch is
// indexed or none is, and it costs one fsync of the block file and one bbolt
// commit for the whole batch, which is what Import uses.
//
// A crash, even SIGKILL or power loss, can therefore leave only unindexed
// bytes behind: the tail of a block file past its indexed prefix, or a whole
// block file started by an uncommitted batch. Open removes both (it
// truncates the file to the length recorded in bucket "files", and deletes
// files beyond the last recorded one) and rebuilds nothing else. An index
// entry that points past the end of its file cannot arise this way; if one
// does (a file damaged or truncated from outside), Open logs it, marks the
// entry as having no data (Has reports false, Block returns ErrNotFound, and
// a later Put of the same block stores it again) and starts a fresh block
// file so that nothing is ever written where an old entry pointed. Every
// read also checks the record's magic, length and header against the index
// (ErrCorrupt).
//
// # Concurrency
//
// A Store is safe for concurrent use. Writers (Put, PutBatch, Close) are
// serialized by one mutex, which also owns the block file being appended
// to. Readers do not take that mutex: they read the index in bbolt
// read-only transactions, which see the last committed state and run
// alongside a writer, and read block records with ReadAt on shared
// read-only file handles. An index entry becomes visible only after its
// record is on disk, so a reader never sees an entry whose bytes are
// missing. Readers hold a read lock that Close waits for, so Close never
// pulls the database out from under a read. The lock order is: writer
// mutex, then the close lock, then the file-handle lock. Tip reads an
// atomically swapped value and takes no lock at all.
//
// Only one process may open a store at a time; bbolt's file lock enforces
// it and a second Open fails with ErrInUse.
//
// # Import
//
// Import and ImportFile load blocks from a stream in the blk*.dat format,
// as written by Bitcoin Core or found in bootstrap.dat. Zero padding (Core
// preallocates its files) is skipped wherever it occurs between records, so
// Core's files can be concatenated with io.MultiReader and imported in one
// pass. Blocks whose parent has not arrived yet wait in a bounded pool and
// are connected when it does.
package store
