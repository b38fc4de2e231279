/**
 * Every command, by oclif id: the target of oclif's explicit command discovery (package.json),
 * and the entry point of the CLI bundle (scripts/bundle.mjs). A command added under commands/
 * must be added here too; the CLI test "lists every command" checks the two agree.
 */
import Autoremove from './commands/autoremove.js'
import Bootstrap from './commands/bootstrap.js'
import Build from './commands/build.js'
import CacheClean from './commands/cache/clean.js'
import CacheKeygen from './commands/cache/keygen.js'
import CacheList from './commands/cache/list.js'
import CachePush from './commands/cache/push.js'
import Completion from './commands/completion.js'
import ConfigInit from './commands/config/init.js'
import ConfigShow from './commands/config/show.js'
import Doctor from './commands/doctor.js'
import Files from './commands/files.js'
import Gc from './commands/gc.js'
import Generations from './commands/generations.js'
import GenerationsDelete from './commands/generations/delete.js'
import GenerationsDiff from './commands/generations/diff.js'
import Graft from './commands/graft.js'
import Info from './commands/info.js'
import Install from './commands/install.js'
import List from './commands/list.js'
import Logs from './commands/logs.js'
import Outdated from './commands/outdated.js'
import Owns from './commands/owns.js'
import Pin from './commands/pin.js'
import Remove from './commands/remove.js'
import Rollback from './commands/rollback.js'
import Search from './commands/search.js'
import Sources from './commands/sources.js'
import Status from './commands/status.js'
import Switch from './commands/switch.js'
import Unpin from './commands/unpin.js'
import Update from './commands/update.js'
import Upgrade from './commands/upgrade.js'
import Verify from './commands/verify.js'
import Why from './commands/why.js'

export const COMMANDS = {
  autoremove: Autoremove,
  bootstrap: Bootstrap,
  build: Build,
  'cache:clean': CacheClean,
  'cache:keygen': CacheKeygen,
  'cache:list': CacheList,
  'cache:push': CachePush,
  completion: Completion,
  'config:init': ConfigInit,
  'config:show': ConfigShow,
  doctor: Doctor,
  files: Files,
  gc: Gc,
  generations: Generations,
  'generations:delete': GenerationsDelete,
  'generations:diff': GenerationsDiff,
  graft: Graft,
  info: Info,
  install: Install,
  list: List,
  logs: Logs,
  outdated: Outdated,
  owns: Owns,
  pin: Pin,
  remove: Remove,
  rollback: Rollback,
  search: Search,
  sources: Sources,
  status: Status,
  switch: Switch,
  unpin: Unpin,
  update: Update,
  upgrade: Upgrade,
  verify: Verify,
  why: Why,
}
