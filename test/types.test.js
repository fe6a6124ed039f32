'use strict'
// The TypeScript types (js/index.d.ts and the subpaths' js/codec.d.ts and
// js/index.d.mts, js/codec.d.mts) checked by tsc in strict mode against test/types/: the
// README's examples and every entry, as CommonJS and as ES modules, under
// Node's module resolution and a bundler's; lines marked @ts-expect-error
// must be errors, so that a type gone `any` fails too.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const tsc = require.resolve('typescript/bin/tsc')

for (const config of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
  test(`types: tsc --strict with ${config}`, { timeout: 120000 }, () => {
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'test', 'types', config)], { cwd: root, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })
}
