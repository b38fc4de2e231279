/**
 * The transaction log: one JSON line per transaction (committed, failed, recovered or rolled
 * back) in <log-dir>/transactions.jsonl. Appends are single write() calls of one line, so a
 * crash can at worst lose the last line, never corrupt earlier ones.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ConfinedFs } from '@nip/cas'
import type { LogRecord } from './api.js'

export const LOG_FILE = 'transactions.jsonl'

export function appendLog(cfs: ConfinedFs, logDir: string, record: LogRecord): void {
  try {
    cfs.mkdirp(logDir)
    cfs.appendFile(path.join(logDir, LOG_FILE), JSON.stringify(record) + '\n')
  } catch {
    // The log is a record, not the truth (the DB is): failing to write it never fails a transaction.
  }
}

export function readLog(logDir: string, lines: number): LogRecord[] {
  let text: string
  try {
    text = fs.readFileSync(path.join(logDir, LOG_FILE), 'utf8')
  } catch {
    return []
  }
  const out: LogRecord[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      out.push(JSON.parse(line) as LogRecord)
    } catch {
      /* a torn last line */
    }
  }
  return lines > 0 ? out.slice(-lines) : out
}
