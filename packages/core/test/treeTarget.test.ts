import assert from 'node:assert/strict'
import { climbsToSettings, treeLinkTarget } from '@nip/core'

describe('tree link targets (treeTarget.ts)', () => {
  it('relative targets inside the tree, and the one climb to Settings beside the versions', () => {
    assert.equal(treeLinkTarget(['bin'], ['bin', 'x']), 'x')
    assert.equal(treeLinkTarget(['share', 'doc', 'a'], ['share', 'b']), '../../b')
    assert.equal(treeLinkTarget(['bin'], ['bin']), '.')
    assert.equal(treeLinkTarget([], ['lib', 'libx.so']), 'lib/libx.so')
    // from lib/ssl to Settings/ssl/certs: out of lib, out of the version directory, into Settings
    assert.equal(treeLinkTarget(['lib', 'ssl'], ['Settings', 'ssl', 'certs']), '../../../Settings/ssl/certs')
    assert.equal(treeLinkTarget(['Settings', 'a'], ['Settings', 'b', 'c']), '../b/c')
  })

  it('recognises exactly that climb', () => {
    assert.equal(climbsToSettings('lib/ssl/certs', '../../../Settings/ssl/certs'), true)
    assert.equal(climbsToSettings('bin/x', '../../Settings/x.conf'), true)
    assert.equal(climbsToSettings('bin/x', '../../../Settings/x.conf'), false, 'one level too many: out of the program')
    assert.equal(climbsToSettings('bin/x', '../Settings/x.conf'), false, 'that is bin/../Settings, inside the version')
    assert.equal(climbsToSettings('bin/x', '../../Settings/../../etc/passwd'), false)
    assert.equal(climbsToSettings('bin/x', '../../Other/x'), false)
  })
})
