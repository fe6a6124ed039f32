'use strict'
// A value the session cannot send (not JSON-encodable, or over
// limits.maxFrame) over a real transport (connectStream on TCP loopback):
// only that packet is refused, and the session goes on. A message or a
// substream write throws at the caller; a request fails with the refusal;
// an answer that cannot be sent becomes an error response, so the peer's
// request does not hang.
const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { once } = require('node:events')
const { connectStream } = require('..')
const { C } = require('../js/wasm')
const { withTimeout } = require('./helpers/wait')

const E = C.errors
const LIMITS = { maxFrame: 1024 }

async function connected (serverOpts, clientLimits = LIMITS) {
  let serverPs
  const server = net.createServer((socket) => { serverPs = connectStream(socket, { limits: LIMITS, ...serverOpts }) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const socket = net.connect(server.address().port, '127.0.0.1')
  await once(socket, 'connect')
  const closes = []
  const client = connectStream(socket, { limits: clientLimits, close: (err) => closes.push(err) })
  while (!serverPs) await new Promise((resolve) => setImmediate(resolve))
  return {
    client,
    server: serverPs,
    closes,
    done: () => new Promise((resolve) => { client.close(() => server.close(resolve)) })
  }
}

const circular = () => {
  const o = { a: 1 }
  o.self = o
  return o
}

const isRefusal = (code, message) => (err) => err instanceof Error && err.code === code && message.test(err.message)

test('a message or a request whose value cannot be sent is refused alone; the session goes on', { timeout: 20000 }, async () => {
  const c = await connected({ request (value, cb) { cb(null, value) } })
  try {
    const pending = c.client.request('before')
    assert.throws(() => c.client.message(10n), isRefusal(E.ERR_INVALID_ARGUMENT, /cannot be sent as JSON: .*BigInt/))
    assert.throws(() => c.client.message('x'.repeat(2000)), isRefusal(E.ERR_FRAME_TOO_LARGE, /larger than the frame limit/))
    // callback form: called once, with the refusal
    const heard = []
    c.client.request(circular(), (err, value) => heard.push([err, value]))
    assert.equal(heard.length, 1)
    assert.ok(isRefusal(E.ERR_INVALID_ARGUMENT, /circular/)(heard[0][0]))
    // promise form
    await assert.rejects(c.client.request({ big: 'y'.repeat(2000) }), isRefusal(E.ERR_FRAME_TOO_LARGE, /frame limit/))
    // a value whose toJSON throws
    const err = await c.client.request({ toJSON () { throw new RangeError('no JSON for me') } }).catch((e) => e)
    assert.ok(err.cause instanceof RangeError)
    // everything else goes on: the earlier request, later ones, the close
    assert.equal(await withTimeout(pending, 5000, 'the earlier request'), 'before')
    assert.equal(await withTimeout(c.client.request('after'), 5000, 'a later request'), 'after')
    assert.equal(c.client.ended, false)
    assert.equal(heard.length, 1)
  } finally {
    await withTimeout(c.done(), 5000, 'a graceful close with the refused requests released')
  }
  assert.equal(c.closes.length, 1)
  assert.ok(!c.closes[0], 'closed without an error')
})

test('an answer that cannot be sent becomes an error response; the peer\'s request does not hang', { timeout: 20000 }, async () => {
  const c = await connected({
    request (value, cb) {
      if (value === 'bigint') return cb(null, { n: 10n })
      if (value === 'huge') return cb(null, 'z'.repeat(5000))
      cb(null, value)
    }
  })
  try {
    const a = await withTimeout(c.client.request('bigint').catch((e) => e), 5000, 'the answer to bigint')
    assert.equal(a.name, 'TypeError')
    assert.match(a.message, /cannot be sent as JSON/)
    const b = await withTimeout(c.client.request('huge').catch((e) => e), 5000, 'the answer to huge')
    assert.match(b.message, /larger than the frame limit/)
    assert.equal(await withTimeout(c.client.request('fine'), 5000, 'a later request'), 'fine')
  } finally {
    await withTimeout(c.done(), 5000, 'the close')
  }
})

test('a substream write whose value cannot be sent throws; the substream goes on', { timeout: 20000 }, async () => {
  const c = await connected({
    stream (sub) {
      sub.read = (data, end) => {
        if (end) sub.end()
        else sub.write(data)
      }
    }
  })
  try {
    const sub = c.client.stream()
    const got = []
    const ended = new Promise((resolve) => {
      sub.read = (data, end) => {
        if (end) resolve(end)
        else got.push(data)
      }
    })
    sub.write(1)
    assert.throws(() => sub.write(10n), isRefusal(E.ERR_INVALID_ARGUMENT, /BigInt/))
    assert.throws(() => sub.write(Buffer.alloc(2000)), isRefusal(E.ERR_FRAME_TOO_LARGE, /frame limit/))
    sub.write(2)
    sub.end()
    assert.equal(await withTimeout(ended, 5000, 'the echo to end'), true)
    assert.deepEqual(got, [1, 2])
  } finally {
    await withTimeout(c.done(), 5000, 'the close')
  }
})

test('an error end too large for a frame goes without its stack, its message cut if need be; the session goes on', { timeout: 20000 }, async () => {
  const longStack = () => {
    const err = new Error('not found')
    err.stack += '\n    at ' + 'deep.frame '.repeat(200)
    return err
  }
  const c = await connected({
    request (value, cb) {
      if (value === 'stack') return cb(longStack())
      if (value === 'message') return cb(new RangeError('é'.repeat(3000)))
      if (value === 'huge') return cb(null, 'z'.repeat(5000)) // refused: its refusal has a stack too
      cb(null, value)
    },
    stream (sub) {
      sub.read = (data, end) => { if (!end) sub.end(longStack()) }
    }
  })
  try {
    const stack = await withTimeout(c.client.request('stack').catch((e) => e), 5000, 'the answer to stack')
    assert.equal(stack.message, 'not found')
    assert.equal(stack.remoteStack, undefined)
    const message = await withTimeout(c.client.request('message').catch((e) => e), 5000, 'the answer to message')
    assert.equal(message.name, 'RangeError')
    assert.ok(message.message.length > 100 && message.message.length < 1024 && /^é+$/.test(message.message), message.message.length)
    const huge = await withTimeout(c.client.request('huge').catch((e) => e), 5000, 'the answer to huge')
    assert.match(huge.message, /larger than the frame limit/)
    const sub = c.client.stream()
    const ended = new Promise((resolve) => { sub.read = (data, end) => { if (end) resolve(end) } })
    sub.write('go')
    const end = await withTimeout(ended, 5000, 'the substream\'s error end')
    assert.equal(end.message, 'not found')
    sub.end()
    assert.equal(await withTimeout(c.client.request('fine'), 5000, 'a later request'), 'fine')
    assert.equal(c.server.ended, false)
  } finally {
    await withTimeout(c.done(), 5000, 'the close')
  }
})

test('a frame over limits.maxOutbuf on its own is refused alone, while the transport keeps up; the session goes on', { timeout: 20000 }, async () => {
  const c = await connected({ limits: {}, request (value, cb) { cb(null, typeof value === 'string' ? value.length : value) } }, { maxOutbuf: 4096 })
  try {
    assert.throws(() => c.client.message('m'.repeat(8000)), isRefusal(E.ERR_FRAME_TOO_LARGE, /limits\.maxOutbuf/))
    const big = await withTimeout(c.client.request('r'.repeat(8000)).catch((e) => e), 5000, 'the big request')
    assert.equal(big.code, E.ERR_FRAME_TOO_LARGE)
    // frames that fit alone but not together go out as they come
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(c.client.request('s'.repeat(3000)))
    assert.deepEqual(await withTimeout(Promise.all(answers), 5000, 'the answers'), [3000, 3000, 3000, 3000])
    assert.equal(await withTimeout(c.client.request('fine'), 5000, 'a later request'), 4)
    assert.equal(c.client.ended, false)
  } finally {
    await withTimeout(c.done(), 5000, 'the close')
  }
  assert.ok(!c.closes[0], 'closed without an error')
})

test('an error end that does not fit even cut (a tiny maxFrame) is still an error end, never the normal end', { timeout: 20000 }, async () => {
  const c = await connected({
    limits: { maxFrame: 16 },
    request (value, cb) { cb(new Error('handler says no')) },
    stream (sub) {
      sub.read = (data, end) => { if (!end) sub.end(new Error('disk failed while writing')) }
    }
  })
  try {
    const err = await withTimeout(c.client.request('x').catch((e) => e), 5000, 'the error response')
    assert.ok(err instanceof Error)
    assert.equal(err.message, 'packet-stream-wasm: the peer sent an error without a message')
    const sub = c.client.stream()
    const ended = new Promise((resolve) => { sub.read = (data, end) => { if (end) resolve(end) } })
    sub.write('go')
    const end = await withTimeout(ended, 5000, 'the substream\'s end')
    assert.notEqual(end, true)
    assert.ok(end)
    sub.end()
    assert.equal(c.server.ended, false)
  } finally {
    await withTimeout(c.done(), 5000, 'the close')
  }
})

test('a frame over limits.maxOutbuf on its own is refused alone while the transport is backed up too; one that fits alone but not beside what waits ends the session', { timeout: 20000 }, async () => {
  const { Duplex } = require('node:stream')
  // a transport that takes one write and then never has room again
  const stuck = () => new Duplex({ writableHighWaterMark: 16, read () {}, write (chunk, enc, cb) {} })
  const closes = []
  const ps = connectStream(stuck(), { limits: { maxOutbuf: 4096 }, close: (err) => closes.push(err) })
  ps.message('a'.repeat(100))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(ps.writable, false)
  assert.throws(() => ps.message('m'.repeat(8000)), isRefusal(E.ERR_FRAME_TOO_LARGE, /limits\.maxOutbuf/))
  assert.equal(ps.ended, false)
  ps.message('b'.repeat(3000))
  ps.message('c'.repeat(3000)) // 6 KB waiting: the peer does not read
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(closes.length, 1)
  assert.equal(closes[0].code, E.ERR_OUTBUF_LIMIT)
})

test('over a transport that delivers at once, what waits is handed over as often as needed for a frame to fit maxOutbuf', { timeout: 20000 }, async () => {
  const { PassThrough } = require('node:stream')
  const ab = new PassThrough()
  const ba = new PassThrough()
  const closes = []
  const got = []
  const a = connectStream({ readable: ba, writable: ab }, {
    limits: { maxOutbuf: 200 },
    message (v) { a.message('reply-to-' + v) }, // framed while a's own send is under way
    close: (err) => closes.push(err)
  })
  const b = connectStream({ readable: ab, writable: ba }, {
    limits: { maxOutbuf: 20 }, // its answer leaves at once, within a's send
    message (v) {
      got.push(v.length > 20 ? v.length : v)
      if (v === 'first') b.message('first')
    }
  })
  a.message('first')
  a.message('x'.repeat(180))
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(got, ['first', 'reply-to-first', 180])
  assert.equal(a.ended, false)
  assert.deepEqual(closes, [])
  a.close(() => {})
})

test('a handler that throws a value that cannot become a string: the session ends with an error, nothing escapes the transport', { timeout: 20000 }, async () => {
  const warned = []
  const onWarning = (w) => warned.push(w.message)
  process.on('warning', onWarning)
  const { PassThrough } = require('node:stream')
  const ab = new PassThrough()
  const ba = new PassThrough()
  const closes = []
  try {
    connectStream({ readable: ab, writable: ba }, { message () { throw Object.create(null) }, close: (err) => closes.push(err) })
    const a = connectStream({ readable: ba, writable: ab }, {})
    a.message('x')
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(closes.length, 1)
    assert.equal(closes[0].message, 'packet-stream-wasm: a handler threw, the session is destroyed: [object Object]')
    assert.ok(warned.includes('[object Object]'), warned.join('; '))
  } finally {
    process.off('warning', onWarning)
  }
})
