/**
 * The effective configuration, after layering defaults → <root>/etc/nip/nip.conf →
 * ~/.nip/config (user wins) → environment → command-line flags. Loaded by config.ts.
 */
import type { AdapterId } from './adapter.js'

export type ConfigOrigin = 'default' | 'system' | 'user' | 'env' | 'flag'

export interface SourceConfig {
  id: AdapterId
  enabled: boolean
  /** Lower number = tried first (the original nip: nix-priority = 10). */
  priority: number
  /** The whole adapter table (`[pacman]` ...), passed to the adapter as ctx.config. */
  table: Record<string, unknown>
}

export interface NipConfig {
  /** Absolute path of the target root. */
  root: string
  /** Relative to root, e.g. "Programs" (config key `programs-dir`, written "/Programs"). */
  programsDir: string
  /** Relative to root, e.g. "System/Links" (config key `links-dir`). */
  linksDir: string
  /** Relative to root, e.g. "System/Settings" (config key `settings-dir`). */
  settingsDir: string
  /** Relative to root: nip's state, e.g. "var/nip" (config key `state-dir`). */
  stateDir: string
  /** Relative to root: logs, e.g. "var/log/nip" (config key `log-dir`). */
  logDir: string
  /** Relative to root: the CAS, e.g. "var/nip/cas" (config key `cas-dir`). */
  casDir: string
  /** Relative to root: download cache, e.g. "var/nip/cache" (config key `cache-dir`). */
  cacheDir: string
  /** Parallel downloads (config key `parallel-downloads`). */
  parallelDownloads: number
  /** Seconds to wait for the lock before failing with ERR_NIP_LOCKED (config key `lock-timeout`). */
  lockTimeout: number
  /**
   * Seconds a source's local index (its verified metadata in the cache) is used as it is before
   * a query refreshes it from the network (config key `index-max-age`, default one day).
   */
  indexMaxAge?: number
  /** Archive bounds (config keys `max-archive-entries`, `max-archive-size`). */
  maxArchiveEntries: number
  maxArchiveSize: number
  /** Sources in priority order (lowest priority number first), enabled or not. */
  sources: SourceConfig[]
}

export interface LoadedConfig {
  config: NipConfig
  /** For every dotted key shown by `nip config show` (e.g. "programs-dir", "pacman.priority"), where its value came from. */
  origins: Record<string, { value: unknown; origin: ConfigOrigin; file?: string }>
  /** The files that were read, in order. */
  files: string[]
}

export interface LoadConfigOptions {
  /** Target root (absolute). */
  root: string
  /** Override of the user config path (default ~/.nip/config; tests pass a path or null to skip). */
  userConfigPath?: string | null
  /** Environment (default process.env): NIP_ROOT is handled by the CLI; NIP_CONFIG names an extra file. */
  env?: Record<string, string | undefined>
  /** An extra configuration file named on the command line (`--config FILE`): read after NIP_CONFIG, origin 'flag'. */
  configFile?: string
  /** Values from flags, by config key (e.g. { "parallel-downloads": 8 }). */
  flags?: Record<string, unknown>
}
