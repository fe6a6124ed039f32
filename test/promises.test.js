'use strict'
// The forms this package adds to packet-stream 2.0.6's callbacks, over a
// pair of sessions wired in memory: ps.request(value) without a callback
// returns a promise, and substreams are async-iterable for reading. Each
// must settle exactly once whatever ends the session or the substream.
const test = require('node:test')
const assert = require('node:assert/strict')
const packets = require('..')
const { withTimeout, sleep, deferred } = require('./helpers/wait')

// a and b wired to each other; b serves requests and substreams.
function pair (bOpts = {}) {
  const a = packets({})
  const b = packets({
    request (value, cb) {
      if (value === 'fail') return cb(new TypeError('refused'))
      if (value === 'hold') return
      cb(null, { echo: value })
    },
    ...bOpts
  })
  a.read = b.write
  b.read = a.write
  return { a, b }
}

// settles with { value } or { error }, and counts how often it settled
function outcome (promise) {
  return promise.then((value) => ({ value }), (error) => ({ error }))
}

test('promise requests: a response resolves, an error response rejects with an Error named as the peer\'s', async () => {
  const { a } = pair()
  assert.deepEqual(await a.request({ x: 1 }), { echo: { x: 1 } })
  const { error } = await outcome(a.request('fail'))
  assert.ok(error instanceof Error)
  assert.equal(error.name, 'TypeError')
  assert.equal(error.message, 'refused')
})

for (const [how, expected] of [
  ['destroy()', 'unexpected end of parent stream'],
  ['destroy(false)', 'unexpected end of parent stream'],
  ['destroy(true)', 'unexpected end of parent stream'],
  ['destroy(err)', 'gone']
]) {
  test(`promise requests: a session ended with ${how} rejects each pending one once`, async () => {
    const { a } = pair()
    const pending = [outcome(a.request('hold')), outcome(a.request('hold'))]
    if (how === 'destroy()') a.destroy()
    else if (how === 'destroy(false)') a.destroy(false)
    else if (how === 'destroy(true)') a.destroy(true)
    else a.destroy(new Error('gone'))
    for (const { error, value } of await withTimeout(Promise.all(pending), 2000, 'the requests settling')) {
      assert.equal(value, undefined)
      assert.ok(error instanceof Error)
      assert.equal(error.message, expected)
    }
    // after the end a request is refused
    const late = await outcome(a.request('late'))
    assert.ok(late.error instanceof Error)
  })
}

// a substream opened by a; b's side is handed to |serve|
function substream (serve) {
  const { a, b } = pair({ stream: (sub) => { sub.read = () => {}; serve(sub) } })
  const sub = a.stream()
  sub.write('open')
  return { a, b, sub }
}

// a substream opened by a, whose peer's side records what it hears
function overheard () {
  const heard = []
  let peer
  const { a, sub } = substream((s) => { peer = s; s.read = (data, end) => heard.push([data, end]) })
  heard.length = 0 // the write that opened it
  return { a, sub, peer, heard }
}

async function collect (sub) {
  const got = []
  try {
    for await (const x of sub) got.push(x)
    return { got }
  } catch (error) {
    return { got, error }
  }
}

test('async iteration: the values, then the end; an error end is thrown once, then the iterator is done', async () => {
  let peer
  const { sub } = substream((s) => { peer = s })
  const loop = collect(sub)
  peer.write(1)
  peer.write({ two: 2 })
  peer.end()
  assert.deepEqual(await withTimeout(loop, 2000, 'the loop'), { got: [1, { two: 2 }] })

  const { sub: sub2 } = substream((s) => { peer = s })
  const it = sub2[Symbol.asyncIterator]()
  peer.write('x')
  peer.end(new RangeError('broken'))
  assert.deepEqual(await it.next(), { value: 'x', done: false })
  const { error } = await outcome(it.next())
  assert.equal(error.message, 'broken')
  assert.equal(error.name, 'RangeError')
  assert.deepEqual(await it.next(), { value: undefined, done: true })
})

test('async iteration: next() called again before the last one settled', async () => {
  let peer
  const { sub } = substream((s) => { peer = s })
  const it = sub[Symbol.asyncIterator]()
  const calls = [it.next(), it.next(), it.next(), it.next()]
  peer.write('a')
  peer.write('b')
  peer.end()
  assert.deepEqual(await withTimeout(Promise.all(calls), 2000, 'four next() calls'), [
    { value: 'a', done: false },
    { value: 'b', done: false },
    { value: undefined, done: true },
    { value: undefined, done: true }
  ])
})

test('async iteration: ends of the substream that carry no error end the loop; the end of the session is thrown, even without a reason', async () => {
  const ends = {
    'sub.destroy()': [({ sub }) => sub.destroy(), null],
    'the peer ends with null': [({ a, sub }) => a.write({ req: -sub.id, stream: true, end: true, value: null }), null],
    'ps.destroy()': [({ a }) => a.destroy(), 'unexpected end of parent stream'],
    'ps.destroy(false)': [({ a }) => a.destroy(false), 'unexpected end of parent stream'],
    'the peer\'s end of the session': [({ a }) => a.write(null, true), 'unexpected end of parent stream']
  }
  for (const [how, [end, thrown]] of Object.entries(ends)) {
    let peer
    const s = substream((p) => { peer = p })
    const loop = collect(s.sub)
    peer.write(1)
    await sleep(1)
    end({ ...s, peer })
    const result = await withTimeout(loop, 2000, `the loop after ${how}`)
    assert.deepEqual(result.got, [1], how)
    if (thrown === null) assert.equal(result.error, undefined, how)
    else assert.equal(result.error && result.error.message, thrown, how)
  }
})

test('async iteration: a second iterator taken while one is reading throws; the first goes on', async () => {
  let peer
  const { sub } = substream((s) => { peer = s })
  const first = sub[Symbol.asyncIterator]()
  const pending = first.next()
  assert.throws(() => sub[Symbol.asyncIterator](), (err) => err instanceof TypeError && /already being read/.test(err.message))
  peer.write('x')
  peer.end()
  assert.deepEqual(await withTimeout(pending, 2000, 'the first next()'), { value: 'x', done: false })
  assert.deepEqual(await withTimeout(first.next(), 2000, 'the end'), { value: undefined, done: true })
  // once it is done, another is done at once
  assert.deepEqual(await collect(sub), { got: [] })
  // also when the first was taken after the end, with values held before it
  const held = substream((s) => { peer = s })
  peer.write('a')
  peer.write('b')
  peer.end()
  const reader = held.sub[Symbol.asyncIterator]()
  assert.deepEqual(await reader.next(), { value: 'a', done: false })
  assert.throws(() => held.sub[Symbol.asyncIterator](), TypeError)
  assert.deepEqual(await reader.next(), { value: 'b', done: false })
  assert.deepEqual(await collect(held.sub), { got: [] })
})

test('async iteration: a reader that stays behind does not keep what it has read', async () => {
  const v8 = require('node:v8')
  const vm = require('node:vm')
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  let peer
  const { sub } = substream((s) => { peer = s })
  const it = sub[Symbol.asyncIterator]()
  const N = 400000
  peer.write(0) // one value ahead of the reader all along
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 1; i <= N; i++) {
    peer.write(i)
    const { value } = await it.next()
    if (value !== i - 1) assert.fail(`read ${value}, expected ${i - 1}`)
  }
  gc()
  const grew = process.memoryUsage().heapUsed - before
  // a queue that kept every slot would have grown by over 3 MB
  assert.ok(grew < 1.5e6, `the heap grew by ${grew} bytes over ${N} values`)
  assert.deepEqual(await it.next(), { value: N, done: false })
})

test('what arrives on a substream before its read is assigned is held for an iterator taken later', async () => {
  // read by an iterator taken after an await, data and the end
  let peer
  const held = substream((s) => { peer = s })
  peer.write(1)
  peer.write(null)
  peer.write({ x: 2 })
  peer.end()
  await sleep(1)
  assert.deepEqual(await collect(held.sub), { got: [1, null, { x: 2 }] })

  // an error end after held data: the data, then the error
  const failed = substream((s) => { peer = s })
  peer.write('q')
  peer.end(new Error('boom'))
  await sleep(1)
  const result1 = await collect(failed.sub)
  assert.deepEqual(result1.got, ['q'])
  assert.equal(result1.error.message, 'boom')

  // our own end before reading: what came is still there
  const ended = substream((s) => { peer = s })
  peer.write('a')
  peer.end()
  ended.sub.end()
  assert.deepEqual(await collect(ended.sub), { got: ['a'] })

  // the session destroyed meanwhile: the data, then the end is thrown
  const cut = substream((s) => { peer = s })
  peer.write('z')
  cut.a.destroy()
  const result = await collect(cut.sub)
  assert.deepEqual(result.got, ['z'])
  assert.equal(result.error.message, 'unexpected end of parent stream')

  // nothing held, the session destroyed without a reason: thrown all the same
  const bare = substream(() => {})
  bare.a.destroy()
  assert.equal((await collect(bare.sub)).error.message, 'unexpected end of parent stream')

  // a substream the peer opened, whose handler awaits before it iterates
  const a = packets({})
  const b = packets({
    async stream (sub) {
      await sleep(5)
      const got = []
      for await (const x of sub) got.push(x)
      sub.write(got)
      sub.end()
    }
  })
  a.read = b.write
  b.read = a.write
  const opened = a.stream()
  const answer = collect(opened)
  opened.write('first')
  opened.write('second')
  opened.end()
  assert.deepEqual(await withTimeout(answer, 2000, 'the handler\'s answer'), { got: [['first', 'second']] })
})

test('async handlers: a rejection answers the request, ends the substream, or is reported; never an unhandled rejection', async () => {
  const unhandled = []
  const onUnhandled = (err) => unhandled.push(err)
  process.on('unhandledRejection', onUnhandled)
  const warned = []
  const onWarning = (w) => warned.push(w.message)
  process.on('warning', onWarning)
  try {
    const messages = []
    const { a } = pair({
      async request (value, cb) {
        await sleep(1)
        if (value === 'late-throw') { cb(null, 'answered'); throw new Error('after answering') }
        throw new RangeError('async refusal')
      },
      async stream (sub) {
        const it = sub[Symbol.asyncIterator]()
        const first = await it.next()
        if (first.value === 'stop') throw new Error('handler gave up')
        // a throw in a loop's body leaves the loop first, which ends the
        // substream cleanly: the rejection is reported
        for await (const x of it) if (x === 'stop') throw new Error('handler gave up in the loop')
      },
      async message (value) {
        messages.push(value)
        if (value === 'no reason') throw undefined // eslint-disable-line no-throw-literal
        throw new Error('message handler failed')
      }
    })
    const refused = await outcome(a.request('x'))
    assert.equal(refused.error.name, 'RangeError')
    assert.equal(refused.error.message, 'async refusal')
    assert.equal(await a.request('late-throw'), 'answered')

    const sub = a.stream()
    const loop = collect(sub)
    sub.write('stop')
    const result = await withTimeout(loop, 2000, 'the substream to end')
    assert.equal(result.error.message, 'handler gave up')

    const sub1 = a.stream()
    const loop1 = collect(sub1)
    sub1.write('go')
    sub1.write('stop')
    assert.deepEqual(await withTimeout(loop1, 2000, 'the substream left in a loop'), { got: [] })

    // the peer's error end makes the handler's loop throw: it answers with it
    const sub2 = a.stream()
    const loop2 = collect(sub2)
    sub2.write('go')
    sub2.end(new Error('client aborts'))
    assert.equal((await withTimeout(loop2, 2000, 'the second substream')).error.message, 'client aborts')

    a.message('m')
    a.message('no reason')
    await sleep(20)
    assert.deepEqual(messages, ['m', 'no reason'])
    assert.ok(warned.some((w) => /a handler's promise rejected with undefined/.test(w)), warned.join('; '))
    assert.ok(warned.includes('message handler failed'), warned.join('; '))
    assert.ok(warned.includes('after answering'), warned.join('; '))
    assert.ok(warned.includes('handler gave up in the loop'), warned.join('; '))
    assert.equal(a.ended, false)
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
    process.off('warning', onWarning)
  }
})

test('async iteration: an iterator taken after the end is done at once, or throws the error that ended it', async () => {
  let peer
  const clean = substream((s) => { peer = s })
  clean.sub.read = () => {}
  peer.end()
  assert.equal(clean.sub.readEnd, true)
  assert.deepEqual(await withTimeout(collect(clean.sub), 2000, 'a loop over an ended substream'), { got: [] })

  const failed = substream((s) => { peer = s })
  failed.sub.read = () => {}
  peer.end(new Error('early failure'))
  const late = await withTimeout(collect(failed.sub), 2000, 'a loop over a failed substream')
  assert.equal(late.error.message, 'early failure')

  const destroyed = substream(() => {})
  destroyed.sub.read = () => {}
  destroyed.a.destroy(new Error('session gone'))
  const gone = await withTimeout(collect(destroyed.sub), 2000, 'a loop over a substream of a destroyed session')
  assert.equal(gone.error.message, 'session gone')
})

test('async iteration: leaving the loop early ends our side, a pending next() is done, and what the peer still sends is dropped quietly until its end', async (t) => {
  let peer
  let peerEnd = null
  const { a, sub } = substream((s) => {
    peer = s
    s.read = (data, end) => { if (end) peerEnd = end }
  })
  const logged = []
  t.mock.method(console, 'error', (...args) => logged.push(args))
  const it = sub[Symbol.asyncIterator]()
  peer.write(1)
  assert.deepEqual(await it.next(), { value: 1, done: false })
  const pending = it.next()
  assert.deepEqual(await it.return(), { value: undefined, done: true })
  assert.deepEqual(await withTimeout(pending, 2000, 'the pending next()'), { value: undefined, done: true })
  assert.equal(peerEnd, true, 'the peer heard our end')
  assert.equal(sub.writeEnd, true)
  assert.equal(sub.readEnd, null, 'open until the peer ends')
  // the session waits for the peer's end before it closes
  let closed = null
  a.close((err) => { closed = { err } })
  peer.write(2)
  assert.equal(closed, null)
  assert.deepEqual(await it.next(), { value: undefined, done: true }, 'nothing more comes out of the loop that was left')
  peer.end()
  assert.equal(sub.readEnd, true)
  // (wired synchronously, the goodbye reaches the peer inside its end(),
  // before its substream is done, so that the close is not clean, as in
  // 2.0.6; the next test shows it clean over a socket)
  assert.notEqual(closed, null, 'closed once the peer ended')
  assert.deepEqual(logged, [], 'nothing is logged for what was dropped')
})

test('async iteration: after leaving a loop, writes and ends are dropped, a new iterator is done at once; our side ends even when the peer\'s end was already queued; close() waits for the peer\'s end', async (t) => {
  const logged = []
  t.mock.method(console, 'error', (...args) => logged.push(args))
  // writes and ends after leaving, and a second iterator
  {
    const { sub, peer, heard } = overheard()
    const it = sub[Symbol.asyncIterator]()
    peer.write(1)
    assert.deepEqual(await it.next(), { value: 1, done: false })
    await it.return()
    sub.write('after leaving')
    sub.end()
    peer.write(2)
    assert.deepEqual(heard, [[null, true]], 'the peer heard our end once, and nothing after it')
    assert.deepEqual(await sub[Symbol.asyncIterator]().next(), { value: undefined, done: true }, 'a new iterator is done at once')
  }
  // the peer's end already queued behind values: leaving still ends our side
  {
    let peer
    const { a, sub } = substream((s) => { peer = s })
    const it = sub[Symbol.asyncIterator]()
    peer.write(1)
    peer.write(2)
    peer.end()
    assert.deepEqual(await it.next(), { value: 1, done: false })
    await it.return()
    assert.equal(sub.writeEnd, true)
    assert.equal(sub.readEnd, true)
    const closed = await withTimeout(new Promise((resolve) => a.close(resolve)), 2000, 'close after leaving with the peer\'s end queued')
    assert.ok(!closed)
  }
  // close() waits for the peer's end, however long, as for any open
  // substream (ps.destroy() does not wait)
  {
    let peer
    const { a, sub } = substream((s) => { peer = s })
    const it = sub[Symbol.asyncIterator]()
    peer.write(1)
    assert.deepEqual(await it.next(), { value: 1, done: false })
    await it.return()
    let closed = null
    a.close((err) => { closed = { err } })
    peer.write(2)
    await sleep(20)
    assert.equal(closed, null, 'close waits for the peer\'s end')
    peer.end()
    assert.notEqual(closed, null)
  }
  assert.deepEqual(logged, [], 'nothing is logged')
})

test('async iteration: return() after the loop heard the end (try/finally, Readable.from) is a loop finishing: our side stays open', async () => {
  const { Readable } = require('node:stream')
  // try/finally around next()
  {
    const { sub, peer, heard } = overheard()
    const it = sub[Symbol.asyncIterator]()
    peer.write(1)
    peer.end()
    const got = []
    let r
    try {
      while (!(r = await it.next()).done) got.push(r.value)
    } finally {
      await it.return()
    }
    assert.deepEqual(got, [1])
    assert.equal(sub.writeEnd, null, 'our side is still open')
    sub.write('reply')
    sub.end()
    assert.deepEqual(heard, [['reply', undefined], [null, true]])
  }
  // Readable.from calls return() once it is done
  {
    const { sub, peer, heard } = overheard()
    const readable = Readable.from(sub, { objectMode: true })
    const got = []
    readable.on('data', (x) => got.push(x))
    peer.write(1)
    peer.write(2)
    peer.end()
    await withTimeout(new Promise((resolve) => readable.on('close', resolve)), 2000, 'the readable to close')
    assert.deepEqual(got, [1, 2])
    sub.write('after the peer ended')
    sub.end()
    assert.deepEqual(heard, [['after the peer ended', undefined], [null, true]])
  }
})

test('async iteration: leaving the loop early and then closing is clean on both sides over a socket, with an async handler at the peer', async () => {
  const net = require('node:net')
  const serverClosed = deferred()
  const handlerDone = deferred()
  const server = net.createServer((socket) => {
    packets.connectStream(socket, {
      async stream (s) {
        const seen = []
        for await (const x of s) { seen.push(x); s.write(x) }
        s.end()
        handlerDone.resolve(seen)
      },
      close: (err) => serverClosed.resolve(err)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const ps = packets.connectStream(net.connect(server.address().port, '127.0.0.1'))
    const s = ps.stream()
    s.write('x')
    s.write('y')
    const got = []
    for await (const v of s) { got.push(v); break }
    assert.deepEqual(got, ['x'])
    const clientClosed = await withTimeout(new Promise((resolve) => ps.close(resolve)), 5000, 'the client closing')
    assert.ok(!clientClosed, `the client closed cleanly: ${clientClosed}`)
    assert.deepEqual(await withTimeout(handlerDone.promise, 5000, 'the handler'), ['x', 'y'])
    const err = await withTimeout(serverClosed.promise, 5000, 'the server session closing')
    assert.ok(!err, `the server session closed cleanly: ${err && err.message}`)
  } finally {
    server.close()
  }
})

test('async handlers: a rejection without a reason is an error; a thenable that is not a promise is left alone, as in 2.0.6', async () => {
  let thens = 0
  const thenable = { then () { thens++; throw new Error('not to be called') } }
  const { a } = pair({
    async request (value, cb) {
      await sleep(1)
      throw null // eslint-disable-line no-throw-literal
    },
    async stream (sub) {
      await sleep(1)
      throw undefined // eslint-disable-line no-throw-literal
    },
    message () { return thenable }
  })
  const refused = await outcome(a.request('x'))
  assert.ok(refused.error instanceof Error)
  assert.match(refused.error.message, /a handler's promise rejected with null/)
  const sub = a.stream()
  const loop = collect(sub)
  sub.write('x')
  const result = await withTimeout(loop, 2000, 'the substream to end')
  assert.deepEqual(result.got, [])
  assert.match(result.error.message, /a handler's promise rejected with undefined/)
  sub.end()
  a.message('m')
  await sleep(5)
  assert.equal(thens, 0)
  assert.equal(a.ended, false)
})

test('held data and callbacks: a read assigned later drops what was held (no values out of order); a local destroy reaches that read', async () => {
  let peer
  const { sub } = substream((s) => { peer = s })
  peer.write(1) // held: no read yet
  const heard = []
  sub.read = (data, end) => heard.push(end ? ['end', end.message || end] : data)
  peer.write(2)
  const loopAfter = collect(sub) // an iterator now reads only what comes after
  peer.write(3)
  peer.end()
  assert.deepEqual(heard, [2])
  assert.deepEqual((await loopAfter).got, [3])

  // data held on our substream, then a read, then our destroy: the read hears it
  const other = substream((s) => { peer = s })
  peer.write('early')
  const ends = []
  other.sub.read = (data, end) => { if (end) ends.push(end.message) }
  other.sub.destroy(new Error('bye'))
  assert.deepEqual(ends, ['bye'])
})

test('async handlers: a rejection after the session closed is reported, not lost', async () => {
  const warned = []
  const onWarning = (w) => warned.push(w.message)
  process.on('warning', onWarning)
  try {
    // over a transport, where a closed session's output goes nowhere
    const { PassThrough } = require('node:stream')
    const ab = new PassThrough()
    const ba = new PassThrough()
    const a = packets.connectStream({ readable: ba, writable: ab }, {})
    let called
    const handling = new Promise((resolve) => { called = resolve })
    const b = packets.connectStream({ readable: ab, writable: ba }, {
      async request (value, cb) {
        called()
        await sleep(10)
        throw new Error('too late to answer')
      }
    })
    a.request('x', () => {})
    await withTimeout(handling, 2000, 'the request to reach the handler')
    await new Promise((resolve) => b.close(resolve)) // close() does not wait for the peer's requests
    await sleep(30)
    assert.ok(warned.includes('too late to answer'), warned.join('; '))
  } finally {
    process.off('warning', onWarning)
  }
})
