'use strict'
// The native echo peer (examples/c/echo_peer.c, build/echo_peer from
// `bash build.sh native`) over real TCP on 127.0.0.1, driven by the reference
// stack: packet-stream@2.0.6 framed by packet-stream-codec@1.2.0 over a
// net.Socket through stream-to-pull-stream, wired as muxrpc wires it.
//
// ECHO_PEER_VALGRIND=1 runs the peer under valgrind; it must exit 0 on
// SIGTERM with no errors and nothing leaked.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const path = require('node:path')
const ref = require('./helpers/refstack')

const { withTimeout, frames } = ref

// ECHO_PEER=path runs another build of it (an ASan build, say).
const PEER = process.env.ECHO_PEER || path.join(__dirname, '..', 'build', 'echo_peer')
const VALGRIND = !!process.env.ECHO_PEER_VALGRIND
const SLOW = VALGRIND ? 10 : 1 // valgrind runs the peer some 10-50 times slower
const T = (ms) => ms * SLOW

// ---- the peer process ---------------------------------------------------------

const running = new Set()
process.on('exit', () => { for (const p of running) p.kill('SIGKILL') })

async function startPeer (args = []) {
  const argv = ['0', ...args]
  const proc = VALGRIND
    ? spawn('valgrind', ['-q', '--leak-check=full', '--show-leak-kinds=all',
      '--errors-for-leak-kinds=all', '--error-exitcode=99', PEER, ...argv])
    : spawn(PEER, argv)
  running.add(proc)
  const exited = once(proc, 'exit').then(([code, signal]) => {
    running.delete(proc)
    return { code, signal }
  })
  let stderr = ''
  const logWaiters = []
  proc.stderr.setEncoding('utf8')
  proc.stderr.on('data', (d) => {
    stderr += d
    for (const w of logWaiters.slice()) w()
  })
  let stdout = ''
  proc.stdout.setEncoding('utf8')
  const port = await withTimeout(new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      stdout += d
      const m = /^listening (\d+)$/m.exec(stdout)
      if (m) resolve(Number(m[1]))
    })
    proc.on('error', reject)
    exited.then(({ code }) => reject(new Error(`echo_peer exited (${code}): ${stderr}`)))
  }), T(5000), 'echo_peer to listen')
  return {
    proc,
    port,
    log: () => stderr,
    // resolves once the peer's log matches |re|
    waitLog (re, ms = T(5000)) {
      return withTimeout(new Promise((resolve) => {
        const check = () => {
          const m = re.exec(stderr)
          if (m) {
            logWaiters.splice(logWaiters.indexOf(check), 1)
            resolve(m)
          }
        }
        logWaiters.push(check)
        check()
      }), ms, `echo_peer log ${re}`)
    },
    async stop () {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      const res = await withTimeout(exited, T(5000), 'echo_peer to exit on SIGTERM')
        .catch((err) => { proc.kill('SIGKILL'); throw err })
      return res
    }
  }
}

// ---- the reference client -----------------------------------------------------

// test/helpers/refstack.js: packet-stream@2.0.6 + packet-stream-codec@1.2.0
// over a net.Socket through stream-to-pull-stream, as muxrpc wires it, and a
// raw socket for bytes the reference would never send.
const connectRef = (port) => ref.connectRef(port, { slow: SLOW })
const connectOurs = (port) => ref.connectOurs(port, { slow: SLOW })
const connectRaw = (port) => ref.connectRaw(port, { slow: SLOW })

// ---- the tests ----------------------------------------------------------------

let peer
test.before(async () => { peer = await startPeer() })
test.after(async () => {
  if (!peer) return
  const { code, signal } = await peer.stop()
  assert.equal(signal, null, 'echo_peer exits by itself on SIGTERM')
  assert.equal(code, 0, `echo_peer exit status (log:\n${peer.log()})`)
  assert.match(peer.log(), /stopping/)
})

const unicode = 'héllo wörld ✓ 🎉'
const big = Buffer.alloc(300000).map((_, i) => (i * 31) & 0xff)
const values = [
  'hello', unicode, { a: [1, 2, { b: null }], s: 'x' }, [true, false], 42, null,
  Buffer.from([0, 1, 0xfe, 0xff]), big
]

test('messages come back as messages: strings, JSON, binary', { timeout: T(20000) }, async () => {
  const c = await connectRef(peer.port)
  for (const v of values) c.ps.message(v)
  const got = await c.waitMessages(values.length)
  assert.deepEqual(got, values)
  assert.equal(typeof got[0], 'string')
  assert.ok(Buffer.isBuffer(got[6]) && Buffer.isBuffer(got[7]), 'binary stays binary')
  assert.equal(await c.close(), undefined)
})

test('requests are answered with their own value', { timeout: T(20000) }, async () => {
  const c = await connectRef(peer.port)
  assert.deepEqual(await Promise.all(values.map((v) => c.request(v))), values)
  // many at once, answered each on its own number
  const many = Array.from({ length: 200 }, (_, i) => ({ n: i, s: 'r'.repeat(i % 7) }))
  assert.deepEqual(await Promise.all(many.map((v) => c.request(v))), many)
  await c.close()
})

test('25 concurrent substreams with interleaved writes are echoed', { timeout: T(20000) }, async () => {
  const c = await connectRef(peer.port)
  const streams = Array.from({ length: 25 }, () => c.stream())
  const sent = streams.map(() => [])
  for (let round = 0; round < 20; round++) {
    streams.forEach((s, i) => {
      const kind = (i + round) % 3
      const v = kind === 0 ? `s${i} r${round}` : kind === 1 ? { i, round } : Buffer.from([i, round, 0xaa])
      sent[i].push(v)
      s.write(v)
    })
    // let some packets go out and come back between rounds
    if (round % 5 === 4) await new Promise((resolve) => setImmediate(resolve))
  }
  streams.forEach((s) => s.end())
  const results = await withTimeout(Promise.all(streams.map((s) => s.done)), T(10000), 'substream ends')
  results.forEach(({ data, end }, i) => {
    assert.deepEqual(data, sent[i], `substream ${i}`)
    assert.equal(end, true, `substream ${i} ends plainly`)
  })
  assert.equal(c.ps._outstreams.size, 0, 'every substream finished')
  await c.close()
})

test('an error end on a substream comes back as an error end', { timeout: T(20000) }, async () => {
  const c = await connectRef(peer.port)
  const s = c.stream()
  s.write('before the error')
  s.end(new Error('boom'))
  const { data, end } = await withTimeout(s.done, T(5000), 'the error end')
  assert.deepEqual(data, ['before the error'])
  assert.equal(end.message, 'boom')
  assert.equal(end.name, 'Error')
  assert.match(end.stack, /boom/)
  // and the session goes on
  assert.equal(await c.request('still here'), 'still here')
  await c.close()
})

test('three clients at once, two on the reference stack and one on ours, each echoed on its own session', { timeout: T(20000) }, async () => {
  const a = await connectRef(peer.port)
  const b = await connectRef(peer.port)
  const c = await connectOurs(peer.port)
  const clients = [a, b, c]
  await Promise.all(clients.map(async (c, k) => {
    const s = c.stream()
    for (let i = 0; i < 50; i++) {
      c.ps.message(`client ${k} message ${i}`)
      s.write({ k, i })
    }
    s.end()
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request([k, i])))
    assert.deepEqual(answers, Array.from({ length: 50 }, (_, i) => [k, i]))
    const msgs = await c.waitMessages(50)
    assert.deepEqual(msgs, Array.from({ length: 50 }, (_, i) => `client ${k} message ${i}`))
    const { data, end } = await withTimeout(s.done, T(5000), 'substream end')
    assert.deepEqual(data, Array.from({ length: 50 }, (_, i) => ({ k, i })))
    assert.equal(end, true)
  }))
  await Promise.all(clients.map((c) => c.close()))
})

test('a client sending garbage is disconnected; the other keeps working', { timeout: T(20000) }, async () => {
  const good = await connectRef(peer.port)
  const s = good.stream() // open across the bad client's end
  s.write('open')
  assert.equal(await good.request('first'), 'first')

  const bad = await connectRaw(peer.port)
  bad.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n') // 'G': body type 3
  await withTimeout(bad.closed, T(5000), 'the peer to close the garbage client')
  await peer.waitLog(/error: peer sent a frame with invalid body type 3/)

  // a valid message first, then a frame over the limit (16 MiB + 1)
  const big = await connectRaw(peer.port)
  big.socket.write(Buffer.concat([frames([{ req: 0, stream: false, end: false, value: 'ok' }]),
    Buffer.from('0201000001000000017b', 'hex')]))
  await withTimeout(big.closed, T(5000), 'the peer to close the oversize client')
  await peer.waitLog(/error: peer sent a frame larger than the frame limit/)

  // the good client was not disturbed
  assert.equal(await good.request('second'), 'second')
  good.ps.message('after')
  assert.deepEqual(await good.waitMessages(1), ['after'])
  s.write('still open')
  s.end()
  const { data, end } = await withTimeout(s.done, T(5000), 'substream end')
  assert.deepEqual(data, ['open', 'still open'])
  assert.equal(end, true)
  await good.close()
})

test('a frame over --max-frame ends that client, at the limit it is echoed', { timeout: T(20000) }, async () => {
  const small = await startPeer(['--max-frame', '1024', '--max-outbuf', '4096'])
  try {
    const ok = await connectRef(small.port)
    const fits = Buffer.alloc(1024, 7)
    ok.ps.message(fits)
    assert.deepEqual(await ok.waitMessages(1), [fits])

    const over = await connectRef(small.port)
    over.ps.message(Buffer.alloc(1025, 7))
    await withTimeout(over.socketClosed, T(5000), 'the peer to close the client')
    await small.waitLog(/error: peer sent a frame larger than the frame limit/)
    const err = await withTimeout(over.closed, T(5000), 'packet-stream close')
    assert.ok(err, 'the reference client sees its session end with an error')

    assert.equal(await ok.request('fine'), 'fine')
    await ok.close()
  } finally {
    const { code } = await small.stop()
    assert.equal(code, 0)
  }
})

test('with --max-outbuf just over --max-frame, frames written at once to a client that reads are all echoed', { timeout: T(20000) }, async () => {
  const tight = await startPeer(['--max-frame', '1000', '--max-outbuf', '1009'])
  try {
    const raw = await connectRaw(tight.port)
    const packets = [1, 2, 3].map((i) => ({ req: 0, stream: false, end: false, value: Buffer.alloc(1000, i) }))
    const bytes = frames(packets)
    raw.socket.write(bytes) // one write: the peer reads the three in one go
    await withTimeout(raw.untilReceived(bytes.length), T(5000), 'every echo')
    assert.ok(raw.received().equals(bytes), 'the echoes, byte for byte')
    raw.socket.end(Buffer.alloc(9))
    await withTimeout(raw.closed, T(5000), 'the peer to close')
    assert.doesNotMatch(tight.log(), /error/)
  } finally {
    const { code } = await tight.stop()
    assert.equal(code, 0)
  }
})

test('graceful close: the goodbye ends the session cleanly both ways', { timeout: T(20000) }, async () => {
  const c = await connectRef(peer.port)
  const s = c.stream()
  s.write('x')
  let closeDone = false
  const closing = c.close().then((err) => { closeDone = true; return err })
  // close waits for our open substream
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(closeDone, false)
  s.end()
  assert.equal(await closing, undefined, 'ps.close calls back without error')
  assert.equal(await withTimeout(c.closed, T(5000), 'close callback'), null)
  await withTimeout(c.socketClosed, T(5000), 'the socket to close')
  // the peer saw a clean close: "closed" with no reason after it
  const id = Number(/client (\d+): connected(?![\s\S]*client \d+: connected)/.exec(peer.log())[1])
  await peer.waitLog(new RegExp(`client ${id}: closed\\n`))
})

test('a client that ends its socket without goodbye is closed cleanly', { timeout: T(20000) }, async () => {
  const raw = await connectRaw(peer.port)
  raw.socket.end(frames([{ req: 0, stream: false, end: false, value: 'last words' }]))
  await withTimeout(raw.closed, T(5000), 'the peer to close')
  // the echo, then the peer's goodbye
  assert.deepEqual(raw.received(), Buffer.concat([
    frames([{ req: 0, stream: false, end: false, value: 'last words' }]), Buffer.alloc(9)]))
})

test('a client that stops reading gets every byte once it reads again', { timeout: T(60000) }, async () => {
  const raw = await connectRaw(peer.port)
  raw.socket.pause()
  const payload = Buffer.alloc(60000, 0x5a)
  const packets = Array.from({ length: 200 }, (_, i) => ({ req: i + 1, stream: false, end: false, value: payload }))
  const bytes = frames(packets) // 12 MB of requests: far more than socket buffers
  raw.socket.write(bytes)
  await new Promise((resolve) => setTimeout(resolve, 300))
  raw.socket.resume()
  const expected = frames(packets.map((p) => ({ ...p, req: -p.req })))
  await withTimeout(raw.untilReceived(expected.length), T(30000), 'every response')
  assert.ok(raw.received().equals(expected), 'the responses, byte for byte')
  raw.socket.end(Buffer.alloc(9)) // goodbye
  await withTimeout(raw.closed, T(5000), 'the peer to close')
  assert.ok(raw.received().subarray(expected.length).equals(Buffer.alloc(9)), 'its goodbye')
})

test('SIGTERM ends every session and exits 0', { timeout: T(20000) }, async () => {
  const p = await startPeer()
  const c = await connectRef(p.port)
  assert.equal(await c.request('hi'), 'hi')
  const { code, signal } = await p.stop()
  assert.equal(signal, null)
  assert.equal(code, 0, p.log())
  await withTimeout(c.socketClosed, T(5000), 'the client socket to close')
  // nothing was open: the peer said goodbye, so the session ended cleanly
  assert.equal(await withTimeout(c.closed, T(5000), 'close callback'), null)
})
