import Install from './install.js'

/** `graft` is `install` under the GoboLinux name; `nip graft nix:hello` = `nip install --source nix hello`. */
export default class Graft extends Install {
  static override summary = 'Graft programs into /Programs (the same as install).'
  static override description =
    'The same command as install, under the GoboLinux name. A SPEC of the form <source>:<name> (e.g. nix:hello) takes the package from that source only, like --source.'
  static override strict = false
  static override examples = ['<%= config.bin %> graft nix:hello', '<%= config.bin %> graft pacman:zstd@1.5.6-1 --dry-run']
}
