'use strict'
// A server built with connectStream (small opts.limits) facing clients that
// misbehave at the byte level, over real TCP on 127.0.0.1. For each: the
// server's session for that client ends with a clear error (message and
// code), what the server had pending at that client (a request and a
// substream) hears it exactly once, the socket is closed, and two
// well-behaved clients (the reference stack and ours), connected all along,
// keep getting answers. Input that packet-stream ignores (a response for an
// unknown id, a second end) leaves the session healthy.
const test = require('node:test')
const assert = require('node:assert/strict')
const psc = require('packet-stream-codec')
const packetStream = require('packet-stream')
const { connectStream } = require('..')
const { C, core } = require('../js/wasm')
const { withTimeout, closeOf, connectRef, connectOurs, connectRaw, frames, parseFrames, listen } = require('./helpers/refstack')
const { sleep, until } = require('./helpers/wait')
const { mulberry32: rng } = require('./helpers/rng')

const E = C.errors
const LIMITS = { maxFrame: 64 * 1024, maxRequests: 8, maxStreams: 8, maxOutbuf: 1024 * 1024 }

// ---- the server -----------------------------------------------------------------

const echoStream = (s) => {
  s.read = (data, end) => {
    if (!end) s.write(data)
    else if (end === true) s.end()
    else s.end(end)
  }
}

// Requests are answered with their value, except 'hold' (never answered);
// substreams are echoed. On connecting, the server sends each client a
// request ('ping') and opens a substream to it ('hello'): those are pending
// at a client that does not answer.
function serve (socket) {
  const rec = {
    socket,
    closes: [], // every call of opts.close
    ping: [], // every call of the ping's callback
    pushData: [],
    pushEnds: [], // every end the server's own substream heard
    opened: 0, // substreams the client opened
    answered: 0,
    maxPending: 0, // the most bytes the framer held while answering
    maxQueued: 0, // the most bytes the socket buffered after a write
    socketClosed: closeOf(socket)
  }
  let onClose
  rec.closed = new Promise((resolve) => { onClose = resolve })
  const write = socket.write
  socket.write = function (...args) {
    const r = write.apply(this, args)
    rec.maxQueued = Math.max(rec.maxQueued, this.writableLength)
    return r
  }
  rec.ps = connectStream(socket, {
    limits: LIMITS,
    request (value, cb) {
      if (value === 'hold') return
      if (value === 'throw') throw new Error('the handler failed on purpose')
      rec.maxPending = Math.max(rec.maxPending, rec.ps.pendingBytes)
      rec.answered++
      cb(null, value)
    },
    stream (s) {
      rec.opened++
      echoStream(s)
    },
    close (err) {
      rec.closes.push(err)
      onClose(err || null)
    }
  })
  rec.ps.request('ping', (err, value) => rec.ping.push([err, value]))
  const push = rec.ps.stream()
  push.read = (data, end) => {
    if (!end) return void rec.pushData.push(data)
    rec.pushEnds.push(end)
    if (end === true) push.end()
  }
  push.write('hello')
  rec.push = push
  sessions.set(socket.remotePort, rec)
}

const sessions = new Map() // the client's port -> what the server saw
let server = null
let goodRef = null
let goodOurs = null

// The server's record of the client on local port |port|.
function serverSession (port) {
  return withTimeout((async () => {
    while (!sessions.has(port)) await sleep(1)
    return sessions.get(port)
  })(), 5000, 'the server to take the connection')
}

// Well-behaved clients answer the ping and echo the server's substream.
const goodHandlers = {
  request (value, cb) { cb(null, value === 'ping' ? 'pong' : value) },
  stream: echoStream
}

let checks = 0
// A good client still gets answers: requests, a substream echoed.
async function checkGood (c) {
  const k = checks++
  const values = [`check ${k}`, { k }, Buffer.from([k & 0xff, 1, 2])]
  assert.deepEqual(await Promise.all(values.map((v) => c.request(v))), values)
  const s = c.stream()
  for (const v of values) s.write(v)
  s.end()
  assert.deepEqual(await withTimeout(s.done, 5000, 'the echo'), { data: values, end: true })
}

const checkBoth = () => Promise.all([checkGood(goodRef), checkGood(goodOurs)])

test.before(async () => {
  server = await listen(serve)
  goodRef = await connectRef(server.port, goodHandlers)
  goodOurs = await connectOurs(server.port, goodHandlers)
  for (const c of [goodRef, goodOurs]) {
    const rec = await serverSession(c.socket.localPort)
    await withTimeout((async () => { while (!rec.ping.length || !rec.pushData.length) await sleep(1) })(), 5000, 'the good client to answer')
    assert.deepEqual(rec.ping, [[null, 'pong']])
    assert.deepEqual(rec.pushData, ['hello'])
  }
})

test.after(async () => {
  try {
    // the good clients were never disturbed: once the server ends its
    // substream to them, they close cleanly
    for (const c of [goodRef, goodOurs]) {
      if (!c) continue
      assert.equal(c.ps.ended, false)
      sessions.get(c.socket.localPort).push.end()
      // (packet-stream hands close callbacks the substream end that
      // completed the close: true, if that was the server's substream)
      assert.ok([undefined, true].includes(await c.close()))
      await withTimeout(c.socketClosed, 5000, 'a good client\'s socket to close')
    }
  } finally {
    for (const c of [goodRef, goodOurs]) if (c) c.socket.destroy()
    if (server) await server.close()
  }
})

// ---- the cases ------------------------------------------------------------------

async function rawClient () {
  const raw = await connectRaw(server.port)
  const rec = await serverSession(raw.socket.localPort)
  return { raw, rec }
}

// The server's session ended with |code| (or one of |code|, or an error
// that the function |code| accepts), everything pending heard that error
// once, the socket is closed, good clients are served.
async function expectDestroyed (raw, rec, code, during) {
  const err = await withTimeout(rec.closed, 5000, 'the server session to end')
  assert.ok(err instanceof Error, 'an Error')
  if (typeof code === 'function') code(err)
  else {
    const codes = [].concat(code)
    assert.ok(codes.includes(err.code), `code ${err.code} is one of ${codes}`)
    if (err.code === E.ERR_TRANSPORT) assert.match(err.message, new RegExp(`^${C.messages[E.ERR_TRANSPORT]}: `))
    else assert.equal(err.message, C.messages[err.code])
  }
  assert.equal(rec.ps.ended, err, 'ps.ended is the error')
  await sleep(20) // time for anything to be heard twice
  assert.deepEqual(rec.closes, [err], 'opts.close heard it once')
  assert.deepEqual(rec.ping, [[err, undefined]], 'the pending request heard it once')
  assert.deepEqual(rec.pushEnds, [err], 'the open substream heard it once')
  assert.equal(rec.ps.coreMemory, 0, 'the core freed the session')
  await withTimeout(rec.socketClosed, 5000, 'the server side of the socket to close')
  assert.ok(rec.socket.destroyed)
  raw.socket.resume()
  await withTimeout(raw.closed, 5000, 'the client side of the socket to close')
  await withTimeout(during, 10000, 'the good clients meanwhile')
  await checkBoth()
  return err
}

test('garbage bytes: an HTTP request (body type 3)', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  raw.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n') // 'G' = 0x47: type 3
  await expectDestroyed(raw, rec, E.ERR_BAD_TYPE, during)
})

test('garbage bytes: random, then the end', { timeout: 20000 }, async () => {
  for (const seed of [1, 2, 3, 4]) {
    const { raw, rec } = await rawClient()
    const during = checkBoth()
    const rand = rng(seed)
    raw.socket.end(Buffer.alloc(1000 + Math.floor(rand() * 3000)).map(() => Math.floor(rand() * 256)))
    await expectDestroyed(raw, rec, [E.ERR_BAD_TYPE, E.ERR_PEER_FRAME_TOO_LARGE, E.ERR_TRUNCATED, E.ERR_BAD_BODY], during)
  }
})

test('a frame with body type 3', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  raw.socket.write(Buffer.concat([Buffer.from('030000000200000000', 'hex'), Buffer.from('hi')]))
  await expectDestroyed(raw, rec, E.ERR_BAD_TYPE, during)
})

test('a length over limits.maxFrame is refused from its header', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  // a valid message first, then a header announcing maxFrame + 1 bytes and
  // no body: the server does not wait for it
  const head = Buffer.alloc(9)
  head[0] = 2
  head.writeUInt32BE(LIMITS.maxFrame + 1, 1)
  head.writeInt32BE(1, 5)
  raw.socket.write(Buffer.concat([frames([{ req: 0, stream: false, end: false, value: 'ok' }]), head]))
  await expectDestroyed(raw, rec, E.ERR_PEER_FRAME_TOO_LARGE, during)
})

test('a body that is not JSON', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  raw.socket.write(Buffer.concat([Buffer.from('020000000500000001', 'hex'), Buffer.from('{nope')]))
  await expectDestroyed(raw, rec, E.ERR_BAD_BODY, during)
})

test('a truncated frame followed by the end', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  const whole = frames([{ req: 1, stream: false, end: false, value: 'x'.repeat(100) }])
  raw.socket.end(whole.subarray(0, 9 + 10))
  await expectDestroyed(raw, rec, E.ERR_TRUNCATED, during)
})

test('a connection reset: transport failed', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  // let the server's first bytes arrive, so that the reset is a reset
  await withTimeout(raw.untilReceived(1), 5000, 'the server\'s ping')
  raw.socket.resetAndDestroy()
  const err = await expectDestroyed(raw, rec, E.ERR_TRANSPORT, during)
  assert.equal(err.cause && err.cause.code, 'ECONNRESET')
})

test('a peer over limits.maxRequests', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  const held = Array.from({ length: LIMITS.maxRequests + 1 }, (_, i) => ({ req: i + 1, stream: false, end: false, value: 'hold' }))
  raw.socket.write(frames(held))
  await expectDestroyed(raw, rec, E.ERR_PEER_REQUEST_LIMIT, during)
})

test('a peer over limits.maxStreams', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  const opens = Array.from({ length: LIMITS.maxStreams + 1 }, (_, i) => ({ req: i + 1, stream: true, end: false, value: i }))
  raw.socket.write(frames(opens))
  await expectDestroyed(raw, rec, E.ERR_PEER_STREAM_LIMIT, during)
  assert.equal(rec.opened, LIMITS.maxStreams)
})

test('a request handler that throws: the session is destroyed with an error that says so, the throw is reported, the server goes on', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  const warned = new Promise((resolve) => process.once('warning', resolve))
  raw.socket.write(frames([
    { req: 1, stream: false, end: false, value: 'before' },
    { req: 2, stream: false, end: false, value: 'throw' },
    { req: 3, stream: false, end: false, value: 'after' }
  ]))
  const err = await expectDestroyed(raw, rec, (err) => {
    assert.equal(err.message, 'packet-stream-wasm: a handler threw, the session is destroyed: the handler failed on purpose')
    assert.equal(err.cause.message, 'the handler failed on purpose')
    assert.equal(err.code, undefined, 'not a protocol error')
  }, during)
  assert.equal(await withTimeout(warned, 5000, 'the warning'), err.cause)
  // what was answered before the throw still left; nothing after it was
  // decoded, and the socket was ended, not cut (no goodbye: an error)
  const got = parseFrames(raw.received()).filter((p) => p.req < 0)
  assert.deepEqual(got, [{ req: -1, stream: false, end: false, value: 'before' }])
  assert.equal(rec.answered, 1)
})

// A raw TCP peer on 127.0.0.1 that keeps its side open and reads nothing
// until told (resume()).
async function pausedPeer (port) {
  const peer = require('node:net').connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  peer.on('error', () => {})
  await withTimeout(new Promise((resolve) => peer.once('connect', resolve)), 5000, 'connect')
  peer.pause()
  return peer
}

// closeTimeout counts time without progress: a peer that reads slowly,
// taking many times closeTimeout to read what waited at the close, gets
// every byte and the goodbye. The timer used to run from the end of the
// session, and cut such a peer off in the middle of a frame.
test('a peer that reads slowly after the session closed gets everything: closeTimeout counts time without progress', { timeout: 30000 }, async () => {
  let session
  const srv = await listen((socket) => { session = connectStream(socket, { closeTimeout: 1000 }) })
  try {
    const peer = await pausedPeer(srv.port)
    while (!session) await sleep(5)
    const body = Buffer.alloc(64 << 10, 0x42)
    const count = 256 // 16 MiB: more than the socket buffers hold
    for (let i = 0; i < count; i++) session.message(body)
    const started = Date.now()
    session.close(() => {})
    // read a chunk (64 KiB at most) every 10 ms, at most 6.4 MB/s: 16 MiB take
    // over 2.5 s, and the kernel wakes the writer every few hundred ms
    const got = []
    let size = 0
    peer.on('data', (chunk) => { got.push(chunk); size += chunk.length; peer.pause() })
    const reading = setInterval(() => peer.resume(), 10)
    peer.setNoDelay(true)
    const ended = new Promise((resolve) => peer.once('end', resolve))
    const closed = new Promise((resolve) => peer.once('close', resolve))
    await withTimeout(Promise.race([ended, closed]), 20000, 'the stream to end')
    clearInterval(reading)
    const all = Buffer.concat(got)
    const expected = frames([...Array.from({ length: count }, () => ({ req: 0, stream: false, end: false, value: body }))])
    assert.ok(Date.now() - started > 2000, 'the read took longer than closeTimeout many times over')
    assert.equal(all.length, expected.length + 9, `got ${size} bytes of ${expected.length + 9}`)
    assert.ok(all.subarray(0, expected.length).equals(expected))
    assert.ok(all.subarray(expected.length).equals(Buffer.alloc(9)), 'the goodbye')
    peer.destroy()
  } finally {
    await srv.close()
  }
})

test('a peer that keeps its side open and never reads after the session ended: the socket is destroyed after closeTimeout', { timeout: 20000 }, async () => {
  for (const how of ['graceful close', 'destroy with an error', 'default timeout not yet passed']) {
    let session
    let serverSocket
    const srv = await listen((socket) => {
      serverSocket = socket
      session = connectStream(socket, { closeTimeout: how.startsWith('default') ? undefined : 150 })
    })
    try {
      // a half-open peer: it never ends its side and never reads
      const peer = await pausedPeer(srv.port)
      while (!session) await sleep(5)
      const closed = closeOf(serverSocket)
      const started = Date.now()
      if (how === 'graceful close') session.close(() => {})
      else session.destroy(new Error('done with you'))
      if (how.startsWith('default')) {
        // 30 s by default: still open a while later, as a socket whose
        // peer is about to close should be
        await sleep(400)
        assert.equal(serverSocket.destroyed, false, how)
        assert.equal(serverSocket.writableEnded, true, how)
      } else {
        await withTimeout(closed, 5000, `the server socket to close (${how})`)
        assert.ok(Date.now() - started >= 140, how)
      }
      peer.destroy()
    } finally {
      await srv.close()
    }
  }
  const { PassThrough } = require('node:stream')
  for (const closeTimeout of [-1, null, '100', NaN]) {
    assert.throws(() => connectStream(new PassThrough(), { closeTimeout }), (err) => err instanceof RangeError && /closeTimeout/.test(err.message), String(closeTimeout))
  }
  // a timeout beyond what timers take (2^31 - 1 ms) waits that long, not
  // a moment (Node fires such a timer at once); a duplex whose peer never ends
  const stream = new (require('node:stream').Duplex)({ read () {}, write (chunk, enc, cb) { cb() } })
  const longSession = connectStream(stream, { closeTimeout: 2 ** 31 })
  longSession.close(() => {})
  await sleep(100)
  assert.equal(stream.destroyed, false)
  stream.destroy()
})

test('a socket that has already closed: the session fails at once, a request made right away is rejected once', { timeout: 20000 }, async () => {
  const { raw } = await rawClient()
  raw.socket.destroy()
  await withTimeout(raw.closed, 5000, 'the socket to close')
  const closes = []
  const ps = connectStream(raw.socket, { close (err) { closes.push(err) } })
  const err = await withTimeout(ps.request('too late').then(() => null, (e) => e), 5000, 'the request to fail')
  assert.ok(err instanceof Error)
  assert.equal(err.message, 'transport failed: stream already closed')
  assert.equal(err.code, E.ERR_TRANSPORT)
  await sleep(20)
  assert.deepEqual(closes, [err])
  await checkBoth()
})

test('{ readable, writable } whose writable closes without an error while backed up: the session fails, drained() settles, what is pending hears it once', { timeout: 20000 }, async () => {
  const { PassThrough, Writable } = require('node:stream')
  const readable = new PassThrough() // the peer never answers
  const writable = new Writable({ highWaterMark: 1024, write (chunk, enc, cb) {} }) // nor reads
  const closes = []
  const ps = connectStream({ readable, writable }, { close (err) { closes.push(err) } })
  const calls = []
  ps.request('held', (err) => calls.push(err))
  const sub = ps.stream()
  sub.read = () => {}
  while (ps.writable) {
    sub.write(Buffer.alloc(4096))
    await new Promise((resolve) => setImmediate(resolve))
  }
  const drained = ps.drained()
  writable.destroy()
  const settled = await withTimeout(drained.then(() => 'resolved', (err) => err), 5000, 'drained() settling')
  await sleep(20)
  assert.equal(closes.length, 1)
  assert.equal(closes[0].message, 'transport failed: stream closed')
  assert.equal(settled, closes[0], 'drained() throws the end: a producer stops')
  await assert.rejects(ps.drained(), (err) => err === closes[0], 'and at once once over')
  assert.deepEqual(calls, [closes[0]])
  assert.ok(ps.ended)
  readable.destroy()
})

test('a readable side that has already ended: the session ends as at the peer\'s end, what was asked hears so once', { timeout: 20000 }, async () => {
  const { PassThrough } = require('node:stream')
  const readable = new PassThrough()
  const writable = new PassThrough()
  readable.end()
  readable.resume()
  await withTimeout(new Promise((resolve) => readable.once('end', resolve)), 5000, 'the end')
  const closes = []
  const ps = connectStream({ readable, writable }, { close (err) { closes.push(err) } })
  const calls = []
  ps.request('too late', (e) => calls.push(e))
  await withTimeout((async () => { while (!closes.length) await sleep(1) })(), 5000, 'the session to end')
  await sleep(20)
  assert.equal(calls.length, 1)
  assert.equal(calls[0].message, 'unexpected end of parent stream')
  assert.deepEqual(closes, [calls[0]])
  assert.ok(writable.writableEnded, 'the output is ended')
})

// Waits until the raw client has received frames for which |done| is true.
function waitFrames (raw, done, what) {
  return withTimeout((async () => {
    for (;;) {
      const got = parseFrames(raw.received())
      if (done(got)) return got
      await sleep(1)
    }
  })(), 5000, what)
}

test('a response for an unknown id is ignored; the session stays healthy', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  raw.socket.write(frames([
    { req: -77, stream: false, end: false, value: 'nobody asked' },
    { req: -78, stream: false, end: true, value: { message: 'nor this', name: 'Error', stack: null } },
    { req: 1, stream: false, end: false, value: 'still works' }
  ]))
  const got = await waitFrames(raw, (ps) => ps.some((p) => p.req === -1), 'the response')
  assert.deepEqual(got.find((p) => p.req === -1), { req: -1, stream: false, end: false, value: 'still works' })
  assert.equal(rec.ps.ended, false)
  assert.deepEqual(rec.closes, [])
  assert.deepEqual(rec.ping, [], 'the server\'s own request is still pending')
  await withTimeout(during, 10000, 'the good clients meanwhile')
  // the client answers the ping and ends the server's substream, then says
  // goodbye: a clean end
  raw.socket.write(frames([
    { req: -1, stream: false, end: false, value: 'pong' },
    { req: -2, stream: true, end: true, value: true }
  ]))
  await waitFrames(raw, (ps) => ps.some((p) => p.req === 2 && p.end), 'the server to end its substream')
  raw.socket.write(Buffer.alloc(9))
  assert.equal(await withTimeout(rec.closed, 5000, 'the server session to end'), null)
  assert.deepEqual(rec.ping, [[null, 'pong']])
  assert.deepEqual(rec.pushEnds, [true])
  await withTimeout(raw.closed, 5000, 'the server to close the socket')
  assert.equal(parseFrames(raw.received()).pop(), 'GOODBYE')
  await checkBoth()
})

test('a second end for an ended substream: handled as packet-stream does, the session stays healthy', { timeout: 20000 }, async () => {
  const { raw, rec } = await rawClient()
  const during = checkBoth()
  const first = [
    { req: 1, stream: true, end: false, value: 'a' },
    { req: 1, stream: true, end: true, value: true }
  ]
  const second = [
    { req: 1, stream: true, end: true, value: true }, // again
    { req: 2, stream: false, end: false, value: 'after' }
  ]
  raw.socket.write(frames(first))
  await waitFrames(raw, (ps) => ps.some((p) => p.req === -1 && p.end), 'the echo of the end')
  raw.socket.write(frames(second))
  const got = await waitFrames(raw, (ps) => ps.some((p) => p.req === -2), 'the response after')
  assert.deepEqual(got.find((p) => p.req === -2), { req: -2, stream: false, end: false, value: 'after' })
  assert.equal(rec.ps.ended, false)
  assert.deepEqual(rec.closes, [])
  await withTimeout(during, 10000, 'the good clients meanwhile')

  // packet-stream@2.0.6 given the same packets says and does the same
  const ref = { opened: 0, out: [] }
  const ps = packetStream({
    request (value, cb) { cb(null, value) },
    stream (s) { ref.opened++; echoStream(s) }
  })
  ps.read = (msg, end) => { if (!end) ref.out.push({ req: msg.req, stream: !!msg.stream, end: !!msg.end, value: msg.value }) }
  ps.request('ping', () => {})
  ps.stream().write('hello')
  for (const p of [...first, ...second]) ps.write(p)
  assert.deepEqual(got, ref.out, 'the same packets back')
  assert.equal(rec.opened, ref.opened, 'the same substreams opened')

  // an end of the socket between frames: what is open hears "unexpected end
  // of parent stream", once
  raw.socket.end()
  const err = await withTimeout(rec.closed, 5000, 'the server session to end')
  assert.equal(err.message, 'unexpected end of parent stream')
  await sleep(20)
  assert.deepEqual(rec.closes, [err])
  assert.deepEqual(rec.ping, [[err, undefined]])
  assert.deepEqual(rec.pushEnds, [err])
  await withTimeout(raw.closed, 5000, 'the socket to close')
  await checkBoth()
})

test('100,000 requests from a peer that never reads: ERR_OUTBUF_LIMIT, memory stays bounded', { timeout: 30000 }, async () => {
  const { raw, rec } = await rawClient()
  raw.socket.pause()
  const wasmBefore = core.memory.buffer.byteLength
  const during = checkBoth()
  const body = 'y'.repeat(200)
  const parts = []
  for (let i = 1; i <= 100000; i++) {
    const [head, b] = psc.encodePair({ req: i, stream: false, end: false, value: body })
    parts.push(head, b)
  }
  const bytes = Buffer.concat(parts) // 20.9 MB in, as much out
  raw.socket.write(bytes)
  await expectDestroyed(raw, rec, E.ERR_OUTBUF_LIMIT, during)
  assert.ok(rec.answered > 0 && rec.answered < 100000, `answered ${rec.answered} before giving up`)
  // what waited for the peer: in the framer at most maxOutbuf, in the
  // socket at most what one write hands over past its high-water mark
  assert.ok(rec.maxPending <= LIMITS.maxOutbuf, `framer held ${rec.maxPending} bytes`)
  const bound = 2 * LIMITS.maxOutbuf + rec.socket.writableHighWaterMark
  assert.ok(rec.maxQueued <= bound, `socket buffered ${rec.maxQueued} bytes (bound ${bound})`)
  const grown = core.memory.buffer.byteLength - wasmBefore
  assert.ok(grown <= 4 * 1024 * 1024, `the core's memory grew by ${grown} bytes`)
})

test('a peer that stops reading for a while, within maxOutbuf, gets every byte in order once it reads again', { timeout: 30000 }, async () => {
  // a server of its own, with the default maxOutbuf (64 MiB)
  let sess = null
  const srv = await listen((socket) => {
    sess = connectStream(socket, { request (value, cb) { cb(null, value) } })
  })
  try {
    const raw = await connectRaw(srv.port)
    raw.socket.pause()
    const payload = Buffer.alloc(60000, 0x5a)
    const packets = Array.from({ length: 200 }, (_, i) => ({ req: i + 1, stream: false, end: false, value: Buffer.concat([Buffer.from([i]), payload]) }))
    raw.socket.write(frames(packets)) // 12 MB of requests: far more than socket buffers
    await withTimeout((async () => { while (!sess || sess.writable) await sleep(2) })(), 5000, 'the server to be backed up')
    const drained = sess.drained()
    let isDrained = false
    drained.then(() => { isDrained = true })
    // the callback form too: ps.ondrain, called each time room comes back
    let ondrains = 0
    sess.ondrain = () => { ondrains++ }
    await sleep(100)
    assert.equal(isDrained, false, 'drained() waits while the peer does not read')
    assert.equal(ondrains, 0)
    assert.equal(sess.ended, false)
    raw.socket.resume()
    const expected = frames(packets.map((p) => ({ ...p, req: -p.req })))
    await withTimeout(raw.untilReceived(expected.length), 15000, 'every response')
    await withTimeout(drained, 5000, 'drained()')
    assert.equal(sess.writable, true)
    assert.ok(ondrains >= 1, 'ps.ondrain was called')
    assert.ok(raw.received().equals(expected), 'the responses, byte for byte')
    raw.socket.end(Buffer.alloc(9)) // goodbye
    await withTimeout(raw.closed, 5000, 'the server to close')
    assert.ok(raw.received().subarray(expected.length).equals(Buffer.alloc(9)), 'its goodbye')
  } finally {
    await srv.close()
  }
})

// A stream with an encoding set hands over strings, and an object-mode
// stream anything: neither can be turned back into the peer's bytes (UTF-8
// replaces what is not valid, and a request id of -1 is not), so the
// session ends with an error that says what came, and what is pending hears
// it once. It waited for ever, or said the peer's frame was too large.
test('a stream that hands over strings (an encoding set) or objects: the session ends with an error that says so', { timeout: 20000 }, async () => {
  const { Duplex } = require('node:stream')
  const cases = [
    { make: (d) => d.setEncoding('utf8'), want: /must give a Uint8Array or Buffer, not a string \(is an encoding set on the stream\?\)/ },
    { make: (d) => d.setEncoding('latin1'), want: /not a string/ },
    { objectMode: true, push: { a: 1 }, want: /not an object \(Object\)/ }
  ]
  for (const c of cases) {
    const duplex = new Duplex({ read () {}, write (chunk, enc, cb) { cb() }, readableObjectMode: !!c.objectMode })
    if (c.make) c.make(duplex)
    const heard = []
    const closed = []
    const ps = connectStream(duplex, { close: (err) => closed.push(err) })
    ps.request('anything', (err) => heard.push(err))
    // a response to it from a peer, framed by the reference codec: its
    // request id -1 is the bytes ff ff ff ff
    if (c.push) duplex.push(c.push)
    else for (const part of psc.encodePair({ req: -1, stream: false, end: false, value: 'ok' })) duplex.push(part)
    await withTimeout((async () => { while (!ps.ended) await sleep(1) })(), 5000, 'the session to end')
    await sleep(10)
    assert.equal(heard.length, 1, 'the request heard once')
    assert.match(heard[0].message, c.want)
    assert.doesNotMatch(heard[0].message, /handler threw/)
    assert.equal(heard[0].code, E.ERR_INVALID_ARGUMENT)
    assert.equal(closed.length, 1)
    assert.match(closed[0].message, c.want)
  }
})

// A callback that throws while ps.destroy() hands out the end: every other
// pending callback still hears it once, the session closes (its end is
// read, so a transport under it closes too, and the peer hears), and the
// first throw reaches destroy's caller. Before, the throw left the rest of
// the session open: a WebSocket stayed open and the peer waited.
test('ps.destroy(err) with a callback that throws: the rest hear it once, the session and the peer end, the throw reaches the caller', { timeout: 20000 }, async () => {
  const packets = require('..')
  const closes = []
  const A = packets({ close: (err) => closes.push(err) })
  const B = packets({ request () {}, stream (s) { s.read = () => {} } }) // answers nothing
  A.read = B.write
  B.read = A.write
  const heard = []
  A.request(1, (err) => { heard.push(['first', err && err.message]); throw new Error('first callback throws') })
  A.request(2, (err) => { heard.push(['second', err && err.message]); throw new Error('second callback throws') })
  A.request(3, (err) => heard.push(['third', err && err.message]))
  const sub = A.stream()
  sub.read = (data, end) => { if (end) heard.push(['substream', end.message]) }
  const warnings = []
  const onwarning = (w) => warnings.push(w.message)
  process.on('warning', onwarning)
  try {
    assert.throws(() => A.destroy(new Error('going down')), /first callback throws/)
    await sleep(10)
  } finally {
    process.removeListener('warning', onwarning)
  }
  assert.deepEqual(heard, [['first', 'going down'], ['second', 'going down'], ['third', 'going down'], ['substream', 'going down']])
  assert.equal(closes.length, 1)
  assert.equal(closes[0].message, 'going down')
  assert.ok(B.ended, 'the peer heard the end')
  assert.ok(warnings.some((m) => /second callback throws/.test(m)), 'the later throw is reported')
  assert.doesNotThrow(() => A.destroy(new Error('again')), 'a later destroy is quiet')
})

// A destroy(true) from a substream's reader while a destroy with an error
// hands out the end: that substream was open, so the session still ends
// with an error, as in packet-stream 2.0.6. It ended cleanly (close heard
// null, the peer a clean end) when the outer destroy's loop had taken the
// substream already.
test('ps.destroy(true) from a reader during a destroy with an error: the session ends with an error, as in 2.0.6', () => {
  const trace = (make) => {
    const log = []
    const A = make({ close: (err) => log.push(['close', err ? err.message : err]) })
    A.read = (msg, end) => { if (msg === null) log.push(['read end', end === true ? true : end.message]) }
    const s = A.stream()
    s.read = (data, end) => { if (end) A.destroy(true) }
    A.write(null, new Error('peer failed'))
    return log
  }
  const ours = trace(require('..'))
  assert.deepEqual(ours, trace(packetStream))
  assert.deepEqual(ours, [['read end', 'unexpected end of parent stream'], ['close', 'unexpected end of parent stream']])

  // from a request's callback instead: the request is out of the table
  // before its callback runs, so the inner destroy finds nothing open and
  // the session ends cleanly, in both
  const fromRequest = (make) => {
    const log = []
    const A = make({ close: (err) => log.push(['close', err ? err.message : err]) })
    A.read = (msg, end) => { if (msg === null) log.push(['read end', end === true ? true : end.message]) }
    A.request(1, (err) => { log.push(['request', err.message]); A.destroy(true) })
    A.destroy(true)
    return log
  }
  const ours2 = fromRequest(require('..'))
  assert.deepEqual(ours2, fromRequest(packetStream))
  assert.deepEqual(ours2, [['request', 'unexpected end of parent stream'], ['read end', true], ['close', null]])
})

test('connectStream refuses a { readable, writable } whose writable is not a stream, naming what it lacks', () => {
  const { PassThrough } = require('node:stream')
  const readable = new PassThrough()
  assert.throws(() => connectStream({ readable, writable: { write () { return true }, end () {}, on () { return this } } }), { name: 'TypeError', message: /whose writable is a stream, not an object without removeListener, destroy/ })
  // nothing was claimed: a proper pair takes the readable afterwards
  const ps = connectStream({ readable, writable: new PassThrough() })
  ps.destroy(true)
})

test('a flood of requests in one chunk to a peer that does not read: no request past the first answer over maxOutbuf is handled, the session ends at once', { timeout: 20000 }, async () => {
  // as a WebSocket hands over a whole message: one chunk of 100,000 requests
  const { PassThrough, Writable } = require('node:stream')
  const readable = new PassThrough()
  const writable = new Writable({ highWaterMark: 1024, write (chunk, enc, cb) {} }) // never reads
  let handled = 0
  const closes = []
  connectStream({ readable, writable }, {
    limits: { maxOutbuf: 256 * 1024 },
    request (value, cb) { handled++; cb(null, value) },
    close (err) { closes.push(err) }
  })
  const value = 'z'.repeat(100)
  const parts = []
  for (let i = 1; i <= 100000; i++) parts.push(...psc.encodePair({ req: i, stream: false, end: false, value }))
  readable.write(Buffer.concat(parts))
  await until(() => closes.length > 0, 10000, 'the session to end')
  assert.equal(closes.length, 1)
  assert.equal(closes[0].code, E.ERR_OUTBUF_LIMIT)
  // answers of 111 bytes: half of maxOutbuf handed to the stream before it
  // backed up, then maxOutbuf framed, and not one request more
  assert.ok(handled > 2000 && handled < 4000, `handled ${handled} of 100,000`)
  readable.destroy()
})

test('a transport that fails: what handlers still write while the session ends is dropped, not framed for a peer that is gone', { timeout: 20000 }, async () => {
  const { PassThrough, Writable } = require('node:stream')
  const readable = new PassThrough()
  let written = 0
  const writable = new Writable({ write (chunk, enc, cb) { written += chunk.length; cb() } })
  const closes = []
  let opened = 0
  connectStream({ readable, writable }, {
    stream (s) { opened++; echoStream(s) }, // an echo answers an error end with the same end
    close (err) { closes.push(err) }
  })
  const parts = []
  for (let i = 1; i <= 1000; i++) parts.push(...psc.encodePair({ req: i, stream: true, end: false, value: 'open' }))
  readable.write(Buffer.concat(parts))
  await until(() => opened === 1000 && written > 0, 5000, 'the echoes')
  await sleep(20)
  const before = written
  readable.destroy(new Error('connection reset'))
  await until(() => closes.length > 0, 5000, 'the session to end')
  await sleep(20)
  assert.match(closes[0].message, /^transport failed: connection reset/)
  assert.match(closes[0].stack, /^Error: transport failed: connection reset/, 'the stack says what failed too')
  assert.equal(written, before, 'nothing was sent after the failure (1,000 error ends would be)')
})

test('packets dropped as packet-stream drops them are logged up to 100 a session, then one line says the rest are not', () => {
  const logged = []
  const originalError = console.error
  console.error = (...args) => logged.push(args[0])
  try {
    const a = require('..')({})
    a.read = () => {}
    for (let i = 1; i <= 300; i++) a.write({ req: -i, stream: true, end: false, value: 'stray' })
    assert.equal(logged.length, 101)
    assert.ok(logged.slice(0, 100).every((line) => line === 'no stream for incoming msg'))
    assert.match(logged[100], /100 packets dropped on this session were logged; later ones are not/)
    const b = require('..')({}) // each session has its own count
    b.read = () => {}
    b.write({ req: -1, stream: true, end: false, value: 'stray' })
    assert.equal(logged.length, 102)
  } finally {
    console.error = originalError
  }
})

test('the core\'s memory full: connectStream throws ERR_NOMEM and leaves the transport alone; once there is memory the transport carries a session', { timeout: 30000 }, () => {
  const { execFileSync } = require('node:child_process')
  const fixture = require('node:path').join(__dirname, 'fixtures', 'memory-full.js')
  const got = JSON.parse(execFileSync(process.execPath, [fixture], { encoding: 'utf8' }))
  assert.equal(got.memory, 2 ** 31, 'all 2 GiB were taken')
  assert.equal(got.threw.code, E.ERR_NOMEM)
  assert.match(got.threw.message, /^out of memory: the WebAssembly memory that all sessions share is full/)
  assert.equal(got.untouched, true, 'the transport was not listened to nor destroyed')
  assert.equal(got.later, true)
})

test('a producer that overfills maxOutbuf, then close() in the same turn: the close callback hears ERR_OUTBUF_LIMIT and no goodbye leaves', { timeout: 20000 }, async () => {
  const { PassThrough, Writable } = require('node:stream')
  const readable = new PassThrough()
  const sent = []
  const writable = new Writable({ highWaterMark: 16, write (chunk, enc, cb) {} }) // never drains
  const write = writable.write.bind(writable)
  writable.write = (chunk, ...rest) => { sent.push(Buffer.from(chunk)); return write(chunk, ...rest) }
  const closes = []
  const ps = connectStream({ readable, writable }, { limits: { maxOutbuf: 4096 }, close (err) { closes.push(err) } })
  for (let i = 0; i < 20; i++) ps.message('x'.repeat(1000))
  const heard = await new Promise((resolve) => ps.close(resolve))
  assert.equal(heard && heard.code, E.ERR_OUTBUF_LIMIT)
  assert.equal(closes.length, 1)
  assert.equal(closes[0], heard)
  const all = Buffer.concat(sent)
  let goodbye = false
  for (let at = 0; at + 9 <= all.length; at += 9 + all.readUInt32BE(at + 1)) {
    if (all.subarray(at, at + 9).equals(Buffer.alloc(9))) goodbye = true
  }
  assert.equal(goodbye, false, 'no goodbye says all went well')
  assert.ok(ps.ended)
  readable.destroy()
})

test('peers that send most of a large frame and wait do not hold the core\'s memory: the body is gathered outside it; the end cuts it off with ERR_TRUNCATED', { timeout: 30000 }, async () => {
  const { PassThrough } = require('node:stream')
  const before = core.memory.buffer.byteLength
  const header = Buffer.alloc(9)
  header.writeUInt32BE(16 << 20, 1) // a 16 MiB binary body (the default maxFrame)
  header.writeInt32BE(7, 5)
  const chunk = Buffer.alloc(64 * 1024, 0x42)
  const sessions = []
  for (let i = 0; i < 8; i++) {
    const readable = new PassThrough()
    const closes = []
    connectStream({ readable, writable: new PassThrough() }, { close (err) { closes.push(err) } })
    readable.write(header)
    for (let k = 0; k < 128; k++) readable.write(chunk) // 8 MiB of it
    sessions.push({ readable, closes })
  }
  await sleep(200) // every chunk decoded
  for (const { readable } of sessions) assert.equal(readable.readableLength, 0)
  const grown = core.memory.buffer.byteLength - before
  assert.ok(grown < 8 << 20, `the core's memory grew by ${grown} bytes for 64 MiB of bodies arriving`)
  for (const { readable } of sessions) readable.end()
  await until(() => sessions.every((s) => s.closes.length === 1), 5000, 'every session to end')
  for (const { closes } of sessions) assert.equal(closes[0].code, E.ERR_TRUNCATED)
})
