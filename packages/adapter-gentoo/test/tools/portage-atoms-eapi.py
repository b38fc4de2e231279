#!/usr/bin/env python3
# Regenerates fixtures/vectors/portage-atoms-eapi.tsv.gz (see fixtures/PROVENANCE.md) from a Portage source
# checkout: python3 portage-atoms-eapi.py <portage>/lib 20261207 20000 > atoms.tsv, then prepend the header
# line and gzip -9n. Uses Portage only as a library; none of its code is here.
# Generates the Gentoo atom answer table from Portage's own Atom class (run with Portage's lib on
# sys.path). Output: TSV rows "atom<TAB>answers" where answers has one 0/1 per column of EAPIS.
import random, sys
sys.path.insert(0, sys.argv[1])
from portage.dep import Atom
from portage.exception import InvalidAtom

EAPIS = [None, '0', '1', '2', '3', '4', '5', '6', '7', '8']
r = random.Random(int(sys.argv[2]))
N = int(sys.argv[3])
BLOCK = ['', '', '', '!', '!!', '!!!']
OPS = ['', '', '=', '~', '<', '<=', '>', '>=', '=*']
CATS = ['a', 'dev-libs', 'sys-apps', 'x11-libs', 'app-misc']
NAMES = ['f', 'foo', 'foo-bar', 'gtk+', 'foo-1', 'f2', 'perl-Foo']
VERS = ['1', '1.0', '1.0a', '1.0_rc1', '1.0_p2', '1.0-r1', '2.3.4_alpha1_beta2-r12', '1_pre', '0', '1.0-r0', '1.', 'a1']
SLOTS = ['', '', '', ':1', ':1/2', ':=', ':*', ':1=', ':1/2=', ':', ':=*', ':1*', ':0/0', ':a.b+', ':/2']
REPOS = ['', '', '', '', '::gentoo', '::', '::my-repo']
USE = ['x', '-x', '!x?', 'x?', 'x=', '!x=', 'x(+)', 'x(-)', '-x(+)', 'x(+)?', '!x(-)=', '', 'x!', 'x,x', 'x,-x', '-x?', '!x', 'X_Y@1', 'x(+)(-)']
BAD = {'!!!', 'foo-1', '1.', 'a1', ':', ':=*', ':1*', ':/2', '::', '', 'x!', '!x', '-x?', 'x(+)(-)'}
def pick(xs):
    good = [x for x in xs if x not in BAD or x == '' and xs is not USE]
    return r.choice(xs) if r.random() < 0.12 else r.choice(good)
seen = set()
out = []
while len(out) < N:
    op = r.choice(OPS)
    cp = r.choice(CATS) + '/' + pick(NAMES)
    if op == '':
        body = cp + (('-' + pick(VERS)) if r.random() < 0.03 else '')
    elif op == '=*':
        body = '=' + cp + '-' + pick(VERS) + '*'
    else:
        body = op + cp + (('-' + pick(VERS)) if r.random() < 0.98 else '')
    a = pick(BLOCK) + body + pick(SLOTS) + pick(REPOS)
    if r.random() < 0.45:
        a += '[' + ','.join(pick(USE) for _ in range(1 + int(r.random() * 3))) + ']'
    if a in seen:
        continue
    seen.add(a)
    ans = ''
    for e in EAPIS:
        try:
            Atom(a, eapi=e)
            ans += '1'
        except InvalidAtom:
            ans += '0'
    out.append(a + '\t' + ans)
print('\n'.join(out))
