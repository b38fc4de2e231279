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
