'use strict'
// In a real browser (Debian's chromium through playwright-core; `bash
// build.sh test` installs it): js/browser.mjs loads as an ES module with no
// bundler, in a page and in a dedicated module worker, and a conversation
// between two sessions goes exactly as it does with packet-stream@2.0.6 in
// Node. One browser for the file; see test/browser/harness.js.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { createHarness, ROOT } = require('./browser/harness')

let h
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'js', 'browser.mjs')), 'js/browser.mjs exists (bash build.sh setup)')
  h = await createHarness()
})
after(async () => { if (h) await h.close() })

const BYTES = { u8: [0, 1, 2, 127, 128, 253, 254, 255], same: true }
// What packet-stream@2.0.6 does with test/browser/pages/scenario.mjs; the
// test also derives it from the reference itself.
const TRACE = [
  ['A message', 'HELLO THERE'],
  ['A message', { foo: ['bar', 1, null, true] }],
  ['A message', BYTES], // the very Uint8Array sent
  ['B message', 'and back'],
  ['A request', { foo: 'bar' }],
  ['B response', null, { echo: { foo: 'bar' } }],
  ['A request', { fail: 'x' }],
  // an error arrives flattened: a plain object, not an Error
  ['B response', { message: 'no such thing: x', name: 'TypeError', stack: '<stack>' }, null],
  ['A request', BYTES],
  ['B response', null, { u8: [9, 8, 7], same: true }],
  ['B stream', 4],
  ['A stream', -4],
  ['A stream data', 'one'],
  ['B stream data', 'one'],
  ['A stream data', { two: 2 }],
  ['B stream data', { two: 2 }],
  ['A stream data', BYTES],
  ['B stream data', BYTES],
  ['A stream end', true],
  ['B stream end', true, true, true],
  ['B close', null],
  ['B close cb', null],
  ['A close', null],
  ['ended', true, true]
]

let referenceTrace
async function reference () {
  if (!referenceTrace) {
    const { scenario } = await import('./browser/pages/scenario.mjs')
    referenceTrace = await scenario(require('packet-stream'), { bind: true })
  }
  return referenceTrace
}

test('the scenario with packet-stream@2.0.6 in Node gives the expected trace', async () => {
  assert.deepEqual(await reference(), TRACE)
})

test('browser: js/browser.mjs in a <script type="module">, no bundler', async () => {
  const r = await h.runPage('esm.html')
  assert.equal(r.chrome, true)
  assert.deepEqual(r.exports, {
    default: 'function',
    ready: true,
    readyResolvesToPackets: true,
    PacketStream: true,
    debug: false
  })
  // the 23 KB module compiles synchronously on Chromium's main thread
  assert.equal(r.syncCreate, 'ok')
  assert.deepEqual(r.trace, TRACE)
  assert.deepEqual(r.trace, await reference())
})

test('browser: js/browser.mjs in a dedicated module worker', async () => {
  const r = await h.runPage('worker.html')
  assert.equal(r.error, undefined, r.error && r.error.stack)
  assert.equal(r.inWorker, true)
  assert.equal(r.hasWindow, false)
  assert.equal(r.ready, true)
  assert.deepEqual(r.json, { err: null, res: { got: { hello: 'worker' }, in: 'worker' } })
  assert.deepEqual(r.bin, { err: null, same: true, bytes: [1, 2, 3] })
  assert.deepEqual(r.trace, TRACE)
})

test('harness: content types, 404, no escape from the root', async () => {
  const types = {
    '/js/browser.mjs': 'text/javascript',
    '/js/index.js': 'text/javascript',
    '/test/browser/pages/esm.html': 'text/html',
    '/package.json': 'application/json'
  }
  if (fs.existsSync(path.join(ROOT, 'build', 'ps.wasm'))) types['/build/ps.wasm'] = 'application/wasm'
  for (const [p, type] of Object.entries(types)) {
    const res = await fetch(h.origin + p)
    assert.equal(res.status, 200, p)
    assert.equal(res.headers.get('content-type').split(';')[0], type, p)
    await res.arrayBuffer()
  }
  assert.equal((await fetch(h.origin + '/nothing-here.js')).status, 404)
  // http.get sends the path as it is (fetch would normalise it); the server
  // resolves dots as a URL does, and refuses what decodes to outside the root
  const get = (p) => new Promise((resolve, reject) => {
    http.get(h.origin + '/', { path: p }, (res) => { res.resume(); resolve(res.statusCode) }).on('error', reject)
  })
  assert.equal(await get('/../../etc/passwd'), 404)
  assert.equal(await get('/%2e%2e/%2e%2e/etc/passwd'), 404)
  assert.equal(await get('/..%2f..%2f..%2fetc%2fpasswd'), 403)
})

test('harness: a route and a ws WebSocketServer on the same port, from a page', async () => {
  const wss = h.webSocketServer('/echo')
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })))
  h.route('/ws-echo.html', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' })
    res.end(`<!doctype html><script type="module">
      import { run } from '/test/browser/pages/report.mjs'
      run(() => new Promise((resolve, reject) => {
        const ws = new WebSocket('ws://' + location.host + '/echo')
        ws.binaryType = 'arraybuffer'
        const got = []
        ws.onopen = () => { ws.send('ping'); ws.send(new Uint8Array([1, 2, 3])) }
        ws.onmessage = (e) => {
          got.push(typeof e.data === 'string' ? e.data : Array.from(new Uint8Array(e.data)))
          if (got.length === 2) { ws.close(); resolve(got) }
        }
        ws.onerror = () => reject(new Error('websocket error'))
      }))
    </script>`)
  })
  assert.deepEqual(await h.runPage('/ws-echo.html'), ['ping', [1, 2, 3]])
})

test('browser: the codec with Uint8Array and TextDecoder: large bodies passed beside as given, small JSON bodies parsed together but each checked alone', async () => {
  const r = await h.runPage('codec.html')
  assert.deepEqual(r, {
    bufferGlobal: 'undefined',
    chunks: 3, // framed bytes, the 64 KiB body as given, framed bytes
    bigPassedAsGiven: true,
    sameBytes: true,
    decoded: 44,
    jsonValues: true,
    bigBack: true,
    rest: ['a string', true, 'GOODBYE'],
    badGood: 5,
    badError: r.badError
  })
  assert.match(r.badError, /body/i)
})
