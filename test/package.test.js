'use strict'
// The packed tarball works on its own: installed into an empty project and
// used through require and import, with no C toolchain on the PATH.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')

test('npm pack, install, require and import without a toolchain', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-pack-'))
  try {
    const name = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root }).toString().trim().split('\n').pop()
    const tarball = path.join(dir, name)
    const files = execFileSync('tar', ['tzf', tarball]).toString()
    for (const f of ['package/js/index.js', 'package/js/index.mjs', 'package/js/browser.mjs', 'package/js/wasm-bytes.js', 'package/js/constants.js', 'package/js/index.d.ts', 'package/c/ps.h']) {
      assert.ok(files.includes(f), `${f} is in the tarball`)
    }
    const app = path.join(dir, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0"}')
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app, stdio: 'pipe' })
    // a PATH with node and nothing else
    const bin = path.join(dir, 'bin')
    fs.mkdirSync(bin)
    fs.symlinkSync(process.execPath, path.join(bin, 'node'))
    const env = { PATH: bin, HOME: dir }
    const script = `const a = packets({ request: (v, cb) => cb(null, v * 2) }), b = packets({});
      a.read = b.write; b.read = a.write; b.request(21, (e, v) => console.log(v))`
    const cjs = execFileSync('node', ['-e', `const packets = require('packet-stream-wasm'); ${script}`], { cwd: app, env }).toString()
    assert.equal(cjs.trim(), '42')
    const esm = execFileSync('node', ['--input-type=module', '-e', `import packets, { ready } from 'packet-stream-wasm'; await ready; ${script}`], { cwd: app, env }).toString()
    assert.equal(esm.trim(), '42')
    const bundle = execFileSync('node', ['--input-type=module', '-e', `import packets from 'packet-stream-wasm/browser'; ${script}`], { cwd: app, env }).toString()
    assert.equal(bundle.trim(), '42')
    // every named export of the types is there, in both ES entries; the
    // named debug follows the switch on the default export
    for (const entry of ['packet-stream-wasm', 'packet-stream-wasm/browser']) {
      const names = execFileSync('node', ['--input-type=module', '-e', `import * as m from '${entry}'
        const before = m.debug; m.default.debug = true
        console.log(Object.keys(m).sort().join(), before, m.debug)`], { cwd: app, env }).toString().trim()
      assert.equal(names, 'PacketStream,codec,connectPort,connectStream,connectWebSocket,debug,default,errors,ready false true', entry)
    }
    for (const f of ['package/js/codec.d.ts', 'package/js/index.d.mts', 'package/js/codec.d.mts', 'package/js/codec.mjs', 'package/js/codec.browser.mjs', 'package/LICENSE']) {
      assert.ok(files.includes(f), `${f} is in the tarball`)
    }
    assert.ok(!files.includes('browser-entry') && !files.includes('gen-'), 'no build-time script is in the tarball')
    // the codec subpath: named exports as ES module; the main entry's codec
    // in Node, the bundle's in browsers (one core when a page loads both)
    const codecNames = execFileSync('node', ['--input-type=module', '-e', `import codec, * as m from 'packet-stream-wasm/codec'
      import packets from 'packet-stream-wasm'
      import { createRequire } from 'node:module'
      const required = createRequire(import.meta.url)('packet-stream-wasm/codec')
      const bundled = await import('./node_modules/packet-stream-wasm/js/codec.browser.mjs')
      const { default: bundle } = await import('packet-stream-wasm/browser')
      const names = Object.keys(required).sort().join()
      console.log(codec === packets.codec, required === codec, bundled.default === bundle.codec,
        Object.keys(m).filter((n) => n !== 'default').sort().join() === names,
        Object.keys(bundled).filter((n) => n !== 'default').sort().join() === names,
        m.encodePackets === codec.encodePackets, bundled.Framer === bundle.codec.Framer)`], { cwd: app, env }).toString().trim()
    assert.equal(codecNames, 'true true true true true true true')
    // what a bundler for browsers picks (conditions browser, then require or
    // import): callable entries, and one instance, also of the core, for the
    // two subpaths and both ways (an app may mix them)
    const pkgDir = path.join(app, 'node_modules', 'packet-stream-wasm')
    const { exports } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
    const pick = (subpath, conditions) => {
      let target = exports[subpath]
      while (typeof target === 'object') target = target[Object.keys(target).find((c) => conditions.includes(c))]
      return path.join(pkgDir, target)
    }
    for (const how of ['require', 'import']) {
      const conditions = ['browser', how, 'default']
      const main = pick('.', conditions)
      const codecFile = pick('./codec', conditions)
      const load = how === 'require' ? (f) => `require(${JSON.stringify(f)})` : (f) => `(await import(${JSON.stringify(f)})).default`
      const seen = execFileSync('node', ['--input-type=module', '-e', `import { createRequire } from 'node:module'
        const require = createRequire(import.meta.url)
        const packets = ${load(main)}; const codec = ${load(codecFile)}
        console.log(typeof packets, typeof codec, codec === packets.codec)`], { cwd: app, env }).toString().trim()
      assert.equal(seen, 'function function true', `browser + ${how}: ${path.relative(pkgDir, main)}, ${path.relative(pkgDir, codecFile)}`)
    }
    const mixed = execFileSync('node', ['--input-type=module', '-e', `import { createRequire } from 'node:module'
      const require = createRequire(import.meta.url)
      const imported = (await import(${JSON.stringify(pick('.', ['browser', 'import']))})).default
      const importedCodec = (await import(${JSON.stringify(pick('./codec', ['browser', 'import']))})).default
      console.log(imported === require(${JSON.stringify(pick('.', ['browser', 'require']))}),
        importedCodec === require(${JSON.stringify(pick('./codec', ['browser', 'require']))}))`], { cwd: app, env }).toString().trim()
    assert.equal(mixed, 'true true', 'import and require in one browser bundle share one instance')
    // the types of every entry, also under the module resolution of
    // `module: commonjs` (node10, which knows no "exports": typesVersions)
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, types: [], module: 'commonjs', esModuleInterop: true, target: 'es2022', lib: ['es2022', 'dom'] },
      files: ['use.ts']
    }))
    fs.writeFileSync(path.join(app, 'use.ts'), `import packets = require('packet-stream-wasm')
import codec = require('packet-stream-wasm/codec')
import * as browser from 'packet-stream-wasm/browser'
const bytes: Uint8Array = codec.encodePackets([{ req: 1, value: 'x' }])
const ps: ReturnType<typeof browser.default> = packets({})
// @ts-expect-error not part of the codec
codec.nope()
`)
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', app], { cwd: app, encoding: 'utf8' })
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
    // the C library from the package's sources, as the README says
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8').replace(/\s*\n\s*/g, ' ')
    const cBuild = readme.match(/the library is `(cc [^`]+)`/)
    assert.ok(cBuild, 'the README gives the command that builds the C library from the package')
    const pkg = path.join(app, 'node_modules', 'packet-stream-wasm')
    execFileSync('bash', ['-c', cBuild[1]], { cwd: pkg, stdio: 'pipe' })
    assert.ok(fs.statSync(path.join(pkg, 'libps.a')).size > 10000)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
