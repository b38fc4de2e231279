/**
 * Nip: the facade the CLI talks to. One instance per command run; it owns the database
 * handle, the CAS and the adapters, and closes them in close().
 *
 * Readers (list, info, owns, search, sources, status, logs) never take the lock.
 * Writers (install, remove, switch, doctor --fix) take it, run recovery first, then work.
 */
import type {
  DoctorReport,
  InfoResult,
  InstallOptions,
  InstallResult,
  LogRecord,
  OpenOptions,
  OwnsResult,
  ProgramSummary,
  RemoveOptions,
  RemoveResult,
  SearchHit,
  SourceStatus,
  StatusResult,
  SwitchResult,
} from './api.js'
import { NipError } from './errors.js'

export class Nip {
  private constructor(readonly options: OpenOptions) {}

  static async open(options: OpenOptions): Promise<Nip> {
    return new Nip(options)
  }

  async install(_specs: string[], _opts: InstallOptions = {}): Promise<InstallResult> {
    throw new NipError('ERR_NIP_INTERNAL', 'install: not wired yet')
  }
  async remove(_names: string[], _opts: RemoveOptions = {}): Promise<RemoveResult> {
    throw new NipError('ERR_NIP_INTERNAL', 'remove: not wired yet')
  }
  /** Move Current (and the links) of `name` to `version`. */
  async switch(_name: string, _version: string, _opts: { command?: string } = {}): Promise<SwitchResult> {
    throw new NipError('ERR_NIP_INTERNAL', 'switch: not wired yet')
  }
  list(_opts: { name?: string } = {}): ProgramSummary[] {
    throw new NipError('ERR_NIP_INTERNAL', 'list: not wired yet')
  }
  async info(_spec: string, _opts: { source?: string } = {}): Promise<InfoResult> {
    throw new NipError('ERR_NIP_INTERNAL', 'info: not wired yet')
  }
  /** Which program owns a path (absolute, or relative to the current directory / the root). */
  owns(_path: string): OwnsResult {
    throw new NipError('ERR_NIP_INTERNAL', 'owns: not wired yet')
  }
  async search(_query: string, _opts: { source?: string } = {}): Promise<SearchHit[]> {
    throw new NipError('ERR_NIP_INTERNAL', 'search: not wired yet')
  }
  async sources(): Promise<SourceStatus[]> {
    throw new NipError('ERR_NIP_INTERNAL', 'sources: not wired yet')
  }
  status(): StatusResult {
    throw new NipError('ERR_NIP_INTERNAL', 'status: not wired yet')
  }
  /** The last `lines` records of the transaction log, oldest first. */
  logs(_lines = 20): LogRecord[] {
    throw new NipError('ERR_NIP_INTERNAL', 'logs: not wired yet')
  }
  async doctor(_opts: { fix?: boolean } = {}): Promise<DoctorReport> {
    throw new NipError('ERR_NIP_INTERNAL', 'doctor: not wired yet')
  }
  close(): void {}
}
