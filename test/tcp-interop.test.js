'use strict'
// connectStream (this package over a net.Socket) against the reference
// stack (packet-stream@2.0.6 + packet-stream-codec@1.2.0 through
// stream-to-pull-stream, test/helpers/refstack.js) over real TCP on
// 127.0.0.1, both ways round: our server with a reference client, a
// reference server with our client. Between them a proxy forwards the bytes
// in random pieces with random short pauses (seeded: TCP_SEED=n), so both
// sides see odd chunking. Then: the bytes each side writes for the same
// script are identical, and muxrpc@8.0.0 on either stack talks to muxrpc on
// the other.
const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { once } = require('node:events')
const pull = require('pull-stream')
const toPull = require('stream-to-pull-stream')
const ours = require('..')
// a fresh muxrpc whose require('packet-stream') answers what it is given
const { loadMuxrpc } = require('../bench/muxrpc')
const { withTimeout, closeOf, refOn, oursOn, connectRef, connectOurs, parseFrames, listen } = require('./helpers/refstack')
const { sleep, tick } = require('./helpers/wait')
const { mulberry32: rng } = require('./helpers/rng')

const SEED = process.env.TCP_SEED ? Number(process.env.TCP_SEED) >>> 0 : 0x5eed1234

// ---- the chunking proxy ---------------------------------------------------------

const END = Symbol('end')

// |chunk| cut at random: pieces of 1-12 bytes (cutting headers), up to 600
// bytes, or a random share of what is left.
function pieces (chunk, rand) {
  const out = []
  let at = 0
  while (at < chunk.length) {
    const left = chunk.length - at
    const r = rand()
    const n = r < 0.15 ? 1 + Math.floor(rand() * 12) : r < 0.4 ? 1 + Math.floor(rand() * 600) : 1 + Math.floor(rand() * left)
    const take = Math.min(n, left)
    out.push(chunk.subarray(at, at + take))
    at += take
  }
  return out
}

// src's bytes to dst, each piece its own write, some after a pause of a
// millisecond or two; src's end becomes dst's end once everything before it
// went out. |record| gets every chunk as it arrived; |stats| counts chunks
// and pieces.
function forward (src, dst, record, rand, stats) {
  const queue = []
  let busy = false
  let ended = false
  function pump () {
    if (busy) return
    if (!queue.length) {
      if (src.isPaused() && !ended) src.resume()
      return
    }
    const item = queue.shift()
    if (item === END) {
      if (!dst.destroyed) dst.end()
      return
    }
    busy = true
    const ok = dst.destroyed || dst.write(item)
    const pause = rand() < 0.03 ? 1 + Math.floor(rand() * 2) : 0
    let went = false
    const next = () => {
      if (went) return
      went = true
      busy = false
      if (pause) setTimeout(pump, pause)
      else setImmediate(pump)
    }
    if (ok) next()
    else {
      dst.once('drain', next)
      dst.once('close', next)
    }
  }
  src.on('data', (chunk) => {
    record.push(chunk)
    stats.chunks++
    for (const p of pieces(chunk, rand)) {
      stats.pieces++
      if (p.length < 9) stats.small++ // less than a header
      queue.push(p)
    }
    if (queue.length > 2000) src.pause()
    pump()
  })
  const onend = () => {
    if (ended) return
    ended = true
    queue.push(END)
    pump()
  }
  src.on('end', onend)
  src.on('close', onend)
  src.on('error', () => dst.destroy())
}

// A proxy on 127.0.0.1 to 127.0.0.1:target. conns: per connection, the
// bytes that went each way (up: client to server).
async function startProxy (target, seed) {
  const conns = []
  const stats = { chunks: 0, pieces: 0, small: 0 }
  const upstream = new Set()
  const srv = await listen((a) => {
    const n = conns.length
    const conn = { up: [], down: [] }
    conns.push(conn)
    const b = net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true })
    upstream.add(b)
    b.on('error', () => {})
    b.on('close', () => upstream.delete(b))
    forward(a, b, conn.up, rng(seed + 2 * n), stats)
    forward(b, a, conn.down, rng(seed + 2 * n + 1), stats)
  }, { allowHalfOpen: true })
  return {
    port: srv.port,
    conns,
    stats,
    // the record of the next connection, once it is there
    async nextConn (before) {
      await withTimeout((async () => { while (conns.length <= before) await sleep(1) })(), 5000, 'the proxy to accept')
      return conns[before]
    },
    close () {
      for (const b of upstream) b.destroy()
      return srv.close()
    }
  }
}

// ---- the echo servers -----------------------------------------------------------

// An error whose stack does not depend on who made it.
function fixedError (Ctor, message) {
  const err = new Ctor(message)
  err.stack = `${err.name}: ${message}\n    at the echo server`
  return err
}

// Messages come back as messages, requests are answered with their value
// ({ fail } with an error, { tag } names the session in |tags|), substreams
// are echoed, their end (plain or an error) too.
async function startEcho (kind) {
  const on = kind === 'ours' ? oursOn : refOn
  const sessions = []
  const tags = new Map()
  const srv = await listen((socket) => {
    let sess = null
    sess = on(socket, {
      message (m) { sess.ps.message(m) },
      request (value, cb) {
        if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
          if (value.fail) return cb(fixedError(value.type === 'TypeError' ? TypeError : Error, value.fail))
          if (value.tag) tags.set(value.tag, sess)
        }
        cb(null, value)
      },
      stream (s) {
        s.read = (data, end) => {
          if (!end) s.write(data)
          else if (end === true) s.end()
          else s.end(end)
        }
      }
    })
    sessions.push(sess)
  })
  return { ...srv, sessions, tags }
}

const servers = {}
const proxies = {}
test.before(async () => {
  for (const kind of ['ours', 'ref']) {
    servers[kind] = await startEcho(kind)
    proxies[kind] = await startProxy(servers[kind].port, SEED + (kind === 'ours' ? 0 : 1000))
  }
})
test.after(async () => {
  for (const kind of ['ours', 'ref']) {
    if (proxies[kind]) await proxies[kind].close()
    if (servers[kind]) await servers[kind].close()
  }
})

const connect = { ours: connectOurs, ref: connectRef }
const unicode = 'héllo wörld ✓ 🎉'
const pattern = (n, k = 31) => Buffer.alloc(n).map((_, i) => (i * k + (i >> 9)) & 0xff)

const directions = [
  { name: 'our server, reference client', server: 'ours', client: 'ref' },
  { name: 'reference server, our client', server: 'ref', client: 'ours' }
]

for (const dir of directions) {
  const open = () => connect[dir.client](proxies[dir.server].port)
  const t = (name, fn, timeout = 20000) => test(`${dir.name}: ${name} (seed ${SEED})`, { timeout }, fn)

  t('messages and requests with string, JSON and binary bodies', async () => {
    const c = await open()
    const values = [
      'hello', unicode, { a: [1, 2, { b: null }], s: 'x' }, [true, false], 42, null, true, 'x'.repeat(100000),
      Buffer.from([0, 1, 0xfe, 0xff]), pattern(70000)
    ]
    for (const v of values) c.ps.message(v)
    const got = await c.waitMessages(values.length)
    assert.deepEqual(got, values)
    assert.equal(typeof got[0], 'string')
    assert.ok(Buffer.isBuffer(got[8]) && Buffer.isBuffer(got[9]), 'binary stays binary')
    assert.deepEqual(await Promise.all(values.map((v) => c.request(v))), values)
    const many = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `r${i}` : i % 3 === 1 ? { i } : Buffer.from([i & 0xff, 7])))
    assert.deepEqual(await Promise.all(many.map((v) => c.request(v))), many)
    assert.equal(await c.close(), undefined)
    assert.equal(await withTimeout(c.closed, 5000, 'close callback'), null)
  })

  t('error responses and error ends arrive flattened to { message, name, stack }', async () => {
    const c = await open()
    const err = await c.request({ fail: 'nope' }).then(() => null, (e) => e)
    assert.deepEqual(err, { message: 'nope', name: 'Error', stack: 'Error: nope\n    at the echo server' })
    assert.ok(!(err instanceof Error), 'the flattened value itself, as packet-stream gives it')
    const typeErr = await c.request({ fail: 'bad type', type: 'TypeError' }).then(() => null, (e) => e)
    assert.deepEqual(Object.keys(typeErr).sort(), ['message', 'name', 'stack'])
    assert.equal(typeErr.name, 'TypeError')
    // a substream ended with an error is echoed with that error
    const s = c.stream()
    s.write('before the error')
    s.end(new Error('client boom'))
    const { data, end } = await withTimeout(s.done, 5000, 'the error end')
    assert.deepEqual(data, ['before the error'])
    assert.deepEqual(Object.keys(end).sort(), ['message', 'name', 'stack'])
    assert.equal(end.message, 'client boom')
    assert.equal(end.name, 'Error')
    assert.match(end.stack, /client boom/)
    // and the session goes on
    assert.equal(await c.request('still here'), 'still here')
    await c.close()
  })

  t('1,000 concurrent interleaved substreams, several writes each, are echoed', async () => {
    const c = await open()
    const N = 1000
    const ROUNDS = 6
    const streams = Array.from({ length: N }, () => c.stream())
    const sent = streams.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      streams.forEach((s, i) => {
        const kind = (i + round) % 3
        const v = kind === 0 ? `s${i} r${round}` : kind === 1 ? { i, round } : Buffer.from([i & 0xff, i >> 8, round])
        sent[i].push(v)
        s.write(v)
      })
      // some go out and come back between rounds, so that writes and echoes interleave
      if (round % 2 === 1) await tick()
    }
    streams.forEach((s) => s.end())
    const results = await withTimeout(Promise.all(streams.map((s) => s.done)), 15000, 'every substream to end')
    results.forEach(({ data, end }, i) => {
      assert.deepEqual(data, sent[i], `substream ${i}`)
      assert.equal(end, true, `substream ${i} ends plainly`)
    })
    assert.equal(await c.close(), undefined, 'nothing left open')
  })

  t('an 8 MiB binary body goes and comes back whole', async () => {
    const c = await open()
    const big = pattern(8 * 1024 * 1024, 131)
    const back = await c.request(big, 15000)
    assert.ok(Buffer.isBuffer(back))
    assert.equal(back.length, big.length)
    assert.ok(back.equals(big), 'the same bytes')
    // and as a message
    c.ps.message(big)
    const [msg] = await c.waitMessages(1, 15000)
    assert.ok(msg.equals(big))
    await c.close()
  })

  t('graceful close by the client: it waits for its substream, goodbye both ways', async () => {
    const c = await open()
    const tag = `client-close-${dir.client}`
    await c.request({ tag })
    const sess = servers[dir.server].tags.get(tag)
    const s = c.stream()
    s.write('x')
    let closeDone = false
    const closing = c.close().then((err) => { closeDone = true; return err })
    await sleep(50)
    assert.equal(closeDone, false, 'close waits for our open substream')
    s.end()
    assert.equal(await closing, undefined, 'ps.close calls back without error')
    assert.deepEqual(await withTimeout(s.done, 5000, 'the echo end'), { data: ['x'], end: true })
    assert.equal(await withTimeout(c.closed, 5000, 'client close callback'), null)
    assert.equal(await withTimeout(sess.closed, 5000, 'server close callback'), null, 'the server saw a clean end')
    await withTimeout(c.socketClosed, 5000, 'the client socket to close')
    await withTimeout(sess.socketClosed, 5000, 'the server socket to close')
    assert.equal(c.closeCalls.length, 1)
    assert.equal(sess.closeCalls.length, 1)
  })

  t('graceful close by the server: it waits for the client\'s substream, goodbye both ways', async () => {
    const c = await open()
    const tag = `server-close-${dir.client}`
    await c.request({ tag })
    const sess = servers[dir.server].tags.get(tag)
    const s = c.stream()
    s.write('y')
    // the server has it open once its echo is back
    await withTimeout((async () => { while (!s.received.length) await sleep(1) })(), 5000, 'the first echo')
    let closeDone = false
    const closing = sess.close().then((err) => { closeDone = true; return err })
    await sleep(50)
    assert.equal(closeDone, false, 'the server waits for the substream the client opened')
    assert.equal(await c.request('meanwhile'), 'meanwhile', 'a closing server still answers')
    s.end()
    // packet-stream@2.0.6 hands the end value of the substream whose end
    // completes the close (here the echo's own `true`) to the close
    // callbacks; either stack does
    assert.equal(await closing, true)
    assert.deepEqual(await withTimeout(s.done, 5000, 'the echo end'), { data: ['y'], end: true })
    assert.equal(await withTimeout(c.closed, 5000, 'client close callback'), null, 'the client saw a clean end')
    assert.equal(await withTimeout(sess.closed, 5000, 'server close callback'), true)
    await withTimeout(c.socketClosed, 5000, 'the client socket to close')
    await withTimeout(sess.socketClosed, 5000, 'the server socket to close')
  })

  t('our side destroyed: the socket ends without goodbye, the peer\'s open substream hears the end', async () => {
    const proxy = proxies[dir.server]
    const before = proxy.conns.length
    const c = await open()
    const conn = await proxy.nextConn(before)
    const tag = `destroy-${dir.client}`
    await c.request({ tag })
    const sess = servers[dir.server].tags.get(tag)
    const s = c.stream()
    s.write('x')
    await withTimeout((async () => { while (!s.received.length) await sleep(1) })(), 5000, 'the first echo')
    const [mine, theirs] = dir.client === 'ours' ? [c, sess] : [sess, c]
    const err = new Error('going away')
    mine.ps.destroy(err)
    assert.equal(await withTimeout(mine.closed, 5000, 'our close callback'), err)
    // the reference's end of input without goodbye: packet-stream's own
    // end, or what pull-reader (under packet-stream-codec) makes of it
    const theirErr = await withTimeout(theirs.closed, 5000, 'the peer\'s close callback')
    assert.match(theirErr.message, /^(unexpected end of parent stream|stream ended with:\d+ but wanted:9)$/)
    const { end } = await withTimeout(s.done, 5000, 'the substream end')
    if (dir.client === 'ours') assert.equal(end, err, 'our substream heard our session\'s end')
    else {
      // the echo server's handler, hearing the destroy, ends its side with
      // that error (as under packet-stream@2.0.6), which still goes out
      assert.deepEqual(end, { message: err.message, name: err.name, stack: err.stack })
    }
    await withTimeout(c.socketClosed, 5000, 'the client socket to close')
    await withTimeout(sess.socketClosed, 5000, 'the server socket to close')
    assert.equal(mine.closeCalls.length, 1)
    assert.equal(theirs.closeCalls.length, 1)
    const ours = parseFrames(Buffer.concat(dir.client === 'ours' ? conn.up : conn.down))
    assert.ok(ours.length >= 2 && !ours.includes('GOODBYE'), 'no goodbye from the destroyed side')
  })
}

test('the proxies cut the byte streams into odd pieces', () => {
  for (const kind of ['ours', 'ref']) {
    const { chunks, pieces, small } = proxies[kind].stats
    assert.ok(pieces > 2 * chunks, `${kind}: ${chunks} chunks forwarded in ${pieces} pieces`)
    assert.ok(small > 100, `${kind}: ${small} pieces shorter than a header`)
  }
})

// ---- byte for byte --------------------------------------------------------------

// The same exchange from either client against either server. No empty
// bodies: packet-stream-codec would take one for goodbye.
async function script (c) {
  c.ps.message('hello')
  c.ps.message({ json: [1, 'two', null], ok: true })
  c.ps.message(Buffer.from([0, 1, 2, 0xff]))
  c.ps.message(unicode)
  await c.waitMessages(4)
  const answers = await Promise.all([
    c.request('a string'), c.request({ an: 'object', n: [1.5, -2] }), c.request(Buffer.from([1, 2, 3])),
    c.request(12345), c.request([null]), c.request(false)
  ])
  const err = await c.request({ fail: 'refused' }).then(() => null, (e) => e)
  const s1 = c.stream()
  s1.write('one')
  s1.write({ two: 2 })
  s1.write(Buffer.from([3]))
  const s2 = c.stream()
  s2.write('interleaved')
  s1.end()
  s2.end(fixedError(Error, 'the client gives up'))
  const ends = await withTimeout(Promise.all([s1.done, s2.done]), 5000, 'substream ends')
  c.ps.message('last')
  await c.waitMessages(5)
  assert.equal(await c.close(), undefined)
  assert.equal(await withTimeout(c.closed, 5000, 'close callback'), null)
  await withTimeout(c.socketClosed, 5000, 'the socket to close')
  return { answers, err, ends, messages: c.messages }
}

test('byte for byte: clients write the same bytes, servers answer with the same bytes', { timeout: 20000 }, async () => {
  const runs = []
  for (const server of ['ours', 'ref']) {
    for (const client of ['ours', 'ref']) {
      const proxy = proxies[server]
      const before = proxy.conns.length
      const c = await connect[client](proxy.port)
      const conn = await proxy.nextConn(before)
      const result = await script(c)
      runs.push({ name: `${client} client, ${server} server`, result, up: Buffer.concat(conn.up), down: Buffer.concat(conn.down) })
    }
  }
  const [first, ...rest] = runs
  for (const run of rest) {
    assert.deepEqual(run.result, first.result, `${run.name}: what the script saw`)
    assert.ok(run.up.equals(first.up), `${run.name}: client bytes (${run.up.length}) equal ${first.name}'s (${first.up.length})`)
    assert.ok(run.down.equals(first.down), `${run.name}: server bytes (${run.down.length}) equal ${first.name}'s (${first.down.length})`)
  }
  // and they are what the script says: 4 messages, 7 requests, 2 substreams
  // of 4 and 2 packets, a message, the goodbye
  const up = parseFrames(first.up)
  assert.equal(up.length, 4 + 7 + 4 + 2 + 1 + 1)
  assert.equal(up[up.length - 1], 'GOODBYE')
  assert.deepEqual(up.slice(4, 11).map((p) => p.req), [1, 2, 3, 4, 5, 6, 7])
  const down = parseFrames(first.down)
  assert.equal(down[down.length - 1], 'GOODBYE')
  const bodyLength = (p) => p === 'GOODBYE' ? 0
    : Buffer.byteLength(Buffer.isBuffer(p.value) || typeof p.value === 'string' ? p.value : JSON.stringify(p.value))
  assert.equal(first.up.length, up.reduce((n, p) => n + 9 + bodyLength(p), 0), 'nothing but whole frames')
})

test('ours: the frames of one turn leave as one write', { timeout: 20000 }, async () => {
  const c = await connectOurs(servers.ref.port)
  const writes = []
  const write = c.socket.write
  c.socket.write = function (chunk, ...rest) {
    writes.push(chunk.length)
    return write.call(this, chunk, ...rest)
  }
  const answers = []
  for (let i = 0; i < 50; i++) {
    c.ps.message(`m${i}`)
    answers.push(c.request({ i }))
  }
  const s = c.stream()
  s.write('one')
  s.end()
  assert.deepEqual(writes, [], 'nothing is written within the turn')
  assert.deepEqual(await Promise.all(answers), Array.from({ length: 50 }, (_, i) => ({ i })))
  await withTimeout(s.done, 5000, 'the substream')
  assert.equal(writes.length, 1, `one write for the turn (${writes})`)
  const frameLength = (v) => 9 + Buffer.byteLength(typeof v === 'string' ? v : JSON.stringify(v))
  let expected = frameLength('one') + frameLength(true)
  for (let i = 0; i < 50; i++) expected += frameLength(`m${i}`) + frameLength({ i })
  assert.equal(writes[0], expected, 'every frame of the turn')
  await c.close()
})

// ---- muxrpc@8.0.0 ---------------------------------------------------------------

let ourSessions = 0
const muxrpcs = {
  ours: {
    muxrpc: loadMuxrpc((opts) => { ourSessions++; return ours(opts) }),
    codec: ours.codec
  },
  ref: { muxrpc: loadMuxrpc(require('packet-stream')), codec: undefined }
}

const manifest = { hello: 'async', fail: 'async', count: 'source', collect: 'sink', echo: 'duplex' }

function muxApi (seen) {
  return {
    hello (name, cb) { cb(null, `hello, ${name}!`) },
    fail (cb) { cb(new Error('it failed')) },
    count (n) { return pull.count(n - 1) },
    collect (cb) {
      return pull.collect((err, items) => {
        if (seen.onCollected) seen.onCollected(items)
        if (cb) cb(err, items)
      })
    },
    echo () { return pull.map((x) => x * 10) }
  }
}

const call = (fn, what = 'a muxrpc call') => withTimeout(new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v)))), 10000, what)

for (const dir of directions) {
  test(`muxrpc@8.0.0: ${dir.name}, async, source, sink and duplex calls over TCP (seed ${SEED})`, { timeout: 20000 }, async () => {
    assert.notEqual(muxrpcs.ours.muxrpc, muxrpcs.ref.muxrpc, 'two separate muxrpc instances')
    const before = ourSessions
    const seen = { onCollected: null, servers: [] }
    const S = muxrpcs[dir.server]
    const C = muxrpcs[dir.client]
    const srv = await listen((socket) => {
      const rpc = S.muxrpc(null, manifest, muxApi(seen), null, S.codec)
      seen.servers.push(rpc)
      pull(rpc.stream, toPull.duplex(socket), rpc.stream)
    })
    const proxy = await startProxy(srv.port, SEED + 77)
    try {
      const socket = net.connect(proxy.port, '127.0.0.1')
      socket.on('error', () => {})
      const socketClosed = closeOf(socket)
      await withTimeout(once(socket, 'connect'), 5000, 'connect')
      const client = C.muxrpc(manifest, null, null, null, C.codec)
      pull(client.stream, toPull.duplex(socket), client.stream)

      // async, and its errors
      assert.equal(await call((cb) => client.hello('world', cb), 'hello'), 'hello, world!')
      assert.equal(await withTimeout(client.hello('promise'), 5000, 'promise'), 'hello, promise!')
      const err = await call((cb) => client.fail(cb), 'fail').then(() => null, (e) => e)
      assert.equal(err.message, 'it failed')
      const names = Array.from({ length: 100 }, (_, i) => `n${i}`)
      assert.deepEqual(await Promise.all(names.map((n) => call((cb) => client.hello(n, cb), `hello ${n}`))), names.map((n) => `hello, ${n}!`))
      // source
      const counted = await call((cb) => pull(client.count(500), pull.collect(cb)), 'count(500)')
      assert.deepEqual(counted, Array.from({ length: 500 }, (_, i) => i))
      // sink
      const collected = new Promise((resolve) => { seen.onCollected = resolve })
      await call((cb) => pull(pull.values(['a', 'b', 'c']), client.collect(cb)), 'collect')
      assert.deepEqual(await withTimeout(collected, 5000, 'the server to collect'), ['a', 'b', 'c'])
      // duplex, several at once
      const inputs = [1, 2, 3].map((k) => Array.from({ length: 50 * k }, (_, i) => i + k))
      const outs = await Promise.all(inputs.map((xs) => call((cb) => {
        const d = client.echo()
        pull(pull.values(xs), d.sink)
        pull(d.source, pull.collect(cb))
      }, `echo of ${xs.length}`)))
      assert.deepEqual(outs, inputs.map((xs) => xs.map((x) => x * 10)))

      // ours really is under the side that says so
      const expected = (dir.server === 'ours' ? 1 : 0) + (dir.client === 'ours' ? 1 : 0)
      assert.equal(ourSessions - before, expected, 'sessions made by packet-stream-wasm')

      // close: both ends close, the socket too
      assert.equal(seen.servers.length, 1)
      const serverClosed = new Promise((resolve) => seen.servers[0].once('closed', resolve))
      await call((cb) => client.close(cb), 'client.close')
      await withTimeout(serverClosed, 5000, 'the server to close')
      assert.equal(client.closed, true)
      await withTimeout(socketClosed, 5000, 'the socket to close')
    } finally {
      await proxy.close()
      await srv.close()
    }
  })
}

// A server that answers and closes in the same turn: muxrpc's end aborts
// the decoding side, which destroys the socket at once, so the answer and
// the goodbye must have been handed to it before (the reference's encoder
// hands over every packet as it comes; ours hands over the last at once).
const pairs = [['ours', 'ours'], ['ours', 'ref'], ['ref', 'ours']]
for (const [server, client] of pairs) {
  const name = (side) => (side === 'ours' ? 'our' : 'a reference')
  test(`muxrpc@8.0.0: ${name(server)} server that answers and closes in one turn, ${name(client)} client: the answer and the goodbye arrive`, { timeout: 20000 }, async () => {
    const S = muxrpcs[server]
    const C = muxrpcs[client]
    const serverClosed = []
    const srv = await listen((socket) => {
      const rpc = S.muxrpc(null, manifest, {
        hello (name, cb) {
          cb(null, `hello, ${name}!`)
          rpc.close((err) => serverClosed.push(err))
        }
      }, null, S.codec)
      pull(rpc.stream, toPull.duplex(socket), rpc.stream)
    })
    try {
      const socket = net.connect(srv.port, '127.0.0.1')
      socket.on('error', () => {})
      const received = []
      socket.on('data', (chunk) => received.push(chunk))
      const socketClosed = closeOf(socket)
      await withTimeout(once(socket, 'connect'), 5000, 'connect')
      const client = C.muxrpc(manifest, null, null, null, C.codec)
      pull(client.stream, toPull.duplex(socket), client.stream)
      assert.equal(await call((cb) => client.hello('world', cb), 'hello'), 'hello, world!')
      await withTimeout(socketClosed, 5000, 'the socket to close')
      const bytes = Buffer.concat(received)
      assert.deepEqual([...bytes.subarray(bytes.length - 9)], new Array(9).fill(0), 'the goodbye came last')
      assert.deepEqual(serverClosed, [undefined])
    } finally {
      await srv.close()
    }
  })
}
