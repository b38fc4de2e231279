/**
 * Numbered schema migrations. PRAGMA user_version holds the number of the last one applied;
 * each runs in its own SQLite transaction, so a killed upgrade leaves the previous schema.
 * Append new migrations; never edit one that has shipped.
 */
export const MIGRATIONS: string[] = [
  // 1: the first schema
  `
  CREATE TABLE programs (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    source       TEXT NOT NULL,
    package_id   TEXT NOT NULL,
    tree_digest  TEXT NOT NULL,
    explicit     INTEGER NOT NULL,
    current      INTEGER NOT NULL DEFAULT 0,
    installed_at TEXT NOT NULL,
    size         INTEGER NOT NULL,
    txn          TEXT NOT NULL
  );
  CREATE UNIQUE INDEX programs_name_version ON programs (name COLLATE NOCASE, version);
  CREATE INDEX programs_txn ON programs (txn);

  CREATE TABLE files (
    program_id INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    type       TEXT NOT NULL CHECK (type IN ('file', 'dir', 'symlink')),
    mode       INTEGER NOT NULL,
    blob       TEXT,
    size       INTEGER,
    target     TEXT,
    settings   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, path)
  ) WITHOUT ROWID;
  CREATE INDEX files_blob ON files (blob) WHERE blob IS NOT NULL;

  CREATE TABLE dependencies (
    program_id INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    constraint_text TEXT NOT NULL,
    raw        TEXT NOT NULL
  );
  CREATE INDEX dependencies_program ON dependencies (program_id);
  CREATE INDEX dependencies_name ON dependencies (name COLLATE NOCASE);

  -- One row per symlink nip owns in the link farm (root-relative path).
  CREATE TABLE links (
    path       TEXT PRIMARY KEY,
    program    TEXT NOT NULL,
    program_id INTEGER NOT NULL REFERENCES programs (id),
    entry      TEXT NOT NULL,
    target     TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX links_program ON links (program COLLATE NOCASE);

  -- Reference counts: the number of files rows naming each blob. The truth for GC.
  CREATE TABLE blobs (
    key  TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- A row exists while a transaction is in flight; its payload lets the next run finish or undo it.
  CREATE TABLE journal (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    command    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    payload    TEXT NOT NULL
  );
  `,
]
MIGRATIONS.push(
  // 2: store lifecycle — generations, reachability counts, pins, last verify result
  `
  -- One row per committed transaction that changed the set of grafted programs (see generations.ts).
  CREATE TABLE generations (
    id         INTEGER PRIMARY KEY,
    parent     INTEGER,
    created_at TEXT NOT NULL,
    command    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    txn        TEXT NOT NULL,
    restores   INTEGER,
    changes    TEXT NOT NULL
  );

  -- Membership as spans: program_id was in every generation g with first_gen <= g < end_gen
  -- (end_gen NULL: still in the current one), Current or not as 'current' says. A transaction
  -- touches only the spans of what it changes; a span no kept generation falls in is deleted.
  CREATE TABLE generation_spans (
    program_id INTEGER NOT NULL REFERENCES programs (id),
    current    INTEGER NOT NULL,
    first_gen  INTEGER NOT NULL,
    end_gen    INTEGER
  );
  CREATE INDEX generation_spans_program ON generation_spans (program_id);
  CREATE INDEX generation_spans_first ON generation_spans (first_gen);
  CREATE INDEX generation_spans_end ON generation_spans (end_gen) WHERE end_gen IS NOT NULL;

  -- active: in the current generation. refs: live spans + pin; GC collects refs = 0 through the index.
  ALTER TABLE programs ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE programs ADD COLUMN refs INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE programs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE programs ADD COLUMN verify_state TEXT;
  ALTER TABLE programs ADD COLUMN verified_at TEXT;
  CREATE INDEX programs_unreferenced ON programs (id) WHERE refs = 0;
  CREATE INDEX blobs_unreferenced ON blobs (key) WHERE refs <= 0;
  -- deleteProgram removes links by program_id: without this, gc would scan the whole farm per program.
  CREATE INDEX links_program_id ON links (program_id);

  -- A store grafted before generations existed becomes generation 1.
  INSERT INTO generations (id, parent, created_at, command, kind, txn, restores, changes)
    SELECT 1, NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'upgrade to generations', 'migrate', 'migration-2', NULL, '[]'
    WHERE EXISTS (SELECT 1 FROM programs);
  INSERT INTO generation_spans (program_id, current, first_gen, end_gen) SELECT id, current, 1, NULL FROM programs;
  UPDATE programs SET refs = 1;
  `,
)
MIGRATIONS.push(
  // 3: generation 0, the empty root — so the very first graft can be rolled back too
  `
  -- Generation 0 holds nothing (no span starts before generation 1) and is never deleted.
  INSERT INTO generations (id, parent, created_at, command, kind, txn, restores, changes)
    VALUES (0, NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), '(empty root)', 'empty', 'migration-3', NULL, '[]');
  -- Generations that had no parent (the first one, and rollbacks restoring it) now descend from it.
  UPDATE generations SET parent = 0 WHERE parent IS NULL AND id > 0;
  `,
)
