'use strict'
// connectPort over Node's worker_threads: the main thread with
// connectPort(worker) and test/fixtures/port-worker.js with
// connectPort(parentPort); and a MessageChannel whose two ports are both in
// the main thread. Requests both ways, substreams both ways, binary values;
// a turn's frames leave as one postMessage under 256 bytes and in pieces
// above, each carrying one transferred (then detached) ArrayBuffer; graceful closes from either side; a terminated worker, a
// worker that throws, and a closed port end the session with an error
// that each pending request hears once.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const os = require('node:os')
const { execFileSync } = require('node:child_process')
const { Worker, MessageChannel } = require('node:worker_threads')
const { connectPort, codec } = require('..')
const { withTimeout, deferred, sleep, tick, until } = require('./helpers/wait')
const { FIRST_PIECE, pieces, jsonFrame } = require('./helpers/pieces')

const WORKER = path.join(__dirname, 'fixtures', 'port-worker.js')
const T = { timeout: 20000 }

// Counts the ArrayBuffers posted through port.postMessage, checking each
// is transferred and detached afterwards.
function countPosts (port) {
  const stats = { posts: 0, bytes: 0, sizes: [], notDetached: 0, notTransferred: 0, other: 0 }
  const post = port.postMessage
  port.postMessage = function (message, transfer) {
    if (!(message instanceof ArrayBuffer)) {
      stats.other++
      return post.call(this, message, transfer)
    }
    stats.posts++
    stats.bytes += message.byteLength
    stats.sizes.push(message.byteLength)
    if (!transfer || transfer.length !== 1 || transfer[0] !== message) stats.notTransferred++
    const rv = post.call(this, message, transfer)
    if (message.byteLength !== 0) stats.notDetached++
    return rv
  }
  return stats
}

// Counts the ArrayBuffers arriving on a port or worker (Node: the value).
function countArrivals (port) {
  const seen = { messages: 0 }
  port.on('message', (m) => { if (m instanceof ArrayBuffer) seen.messages++ })
  return seen
}

// The main thread's handlers: requests echoed (binary reversed), 'fail'
// refused with a RangeError; substreams echoed (each value wrapped).
function mainService (extra = {}) {
  return {
    request (value, cb) {
      if (Buffer.isBuffer(value)) return cb(null, Buffer.from(value).reverse())
      if (value === 'fail') return cb(new RangeError('refused by main'))
      if (value === 'hold') return
      cb(null, { echo: value, from: 'main' })
    },
    stream (sub) {
      sub.read = (data, end) => {
        if (end) sub.end(end === true ? undefined : end)
        else sub.write(Buffer.isBuffer(data) ? data : { got: data })
      }
    },
    ...extra
  }
}

// A worker running the fixture, and the main thread's session with it.
// w.closed: the session's close error; w.exit: the exit code; w.control:
// plain-object messages from the worker.
function startWorker (opts = {}) {
  const worker = new Worker(WORKER)
  const w = { worker, closeCalls: 0, control: [] }
  const closed = deferred()
  const controlWaiters = []
  w.closed = closed.promise
  w.exit = new Promise((resolve) => worker.on('exit', resolve)) // not once(): it rejects on 'error'
  w.posts = countPosts(worker)
  w.arrivals = countArrivals(worker)
  worker.on('message', (m) => {
    if (m instanceof ArrayBuffer) return
    w.control.push(m)
    for (const [pred, resolve] of controlWaiters.splice(0)) {
      if (pred(m)) resolve(m)
      else controlWaiters.push([pred, resolve])
    }
  })
  w.waitControl = (pred, what) => withTimeout(new Promise((resolve) => {
    const found = w.control.find(pred)
    if (found) resolve(found)
    else controlWaiters.push([pred, resolve])
  }), 5000, what)
  w.ps = connectPort(worker, {
    ...mainService(),
    ...opts,
    close (err) {
      w.closeCalls++
      closed.resolve(err)
    }
  })
  return w
}

async function stopWorker (w) {
  await w.worker.terminate()
}

test('main thread and a worker: requests, errors, substreams and binary both ways', T, async () => {
  const w = startWorker()
  try {
    const { ps } = w
    // main -> worker, promise and callback forms
    assert.deepEqual(await withTimeout(ps.request({ a: 1 }), 5000, 'a request'), { echo: { a: 1 }, from: 'worker' })
    const viaCb = await withTimeout(new Promise((resolve) => ps.request('hi', (err, value) => resolve({ err, value }))), 5000, 'cb')
    assert.deepEqual(viaCb, { err: null, value: { echo: 'hi', from: 'worker' } })
    // error responses
    await assert.rejects(withTimeout(ps.request('fail'), 5000, 'fail'), (err) => {
      assert.ok(err instanceof Error)
      assert.equal(err.name, 'TypeError')
      assert.equal(err.message, 'refused by the worker')
      assert.match(err.remoteStack, /refused by the worker/)
      return true
    })
    // worker -> main: the worker asks the main thread, and relays what it got
    assert.deepEqual(await withTimeout(ps.request({ ask: [1, 'two'] }), 5000, 'ask'), { main: { echo: [1, 'two'], from: 'main' } })
    assert.deepEqual(await withTimeout(ps.request({ ask: 'fail' }), 5000, 'ask fail'), { mainError: { name: 'RangeError', message: 'refused by main' } })
    const askedBytes = await withTimeout(ps.request({ askBytes: [5, 6, 7] }), 5000, 'ask binary')
    assert.ok(Buffer.isBuffer(askedBytes)) // relayed as it came: binary
    assert.deepEqual([...askedBytes], [7, 6, 5])

    // binary: a Uint8Array and a Buffer, 1 MiB
    const u8 = new Uint8Array([0, 1, 2, 128, 255])
    const r = await withTimeout(ps.request(u8), 5000, 'binary')
    assert.ok(Buffer.isBuffer(r))
    assert.deepEqual([...r], [255, 128, 2, 1, 0])
    const big = Buffer.alloc(1 << 20)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255
    const bigBack = await withTimeout(ps.request(big), 5000, 'a 1 MiB request')
    assert.ok(Buffer.from(big).reverse().equals(bigBack))
    assert.equal(big[1], 31, 'what was sent is intact (copied, not transferred)')

    // a substream opened by main, echoed by the worker with for await
    const sub = ps.stream()
    sub.write('one')
    sub.write({ two: 2 })
    sub.write(u8)
    sub.end()
    const got = []
    await withTimeout((async () => { for await (const x of sub) got.push(x) })(), 5000, 'the substream')
    assert.deepEqual(got.slice(0, 2), [{ got: 'one' }, { got: { two: 2 } }])
    assert.ok(Buffer.isBuffer(got[2]))
    assert.deepEqual([...got[2]], [...u8])

    // a substream opened by the worker, echoed by main
    assert.deepEqual(await withTimeout(ps.request({ stream: 5 }), 5000, 'the worker substream'),
      [{ got: 0 }, { got: 1 }, { got: 2 }, { got: 3 }, { got: 4 }, { bytes: [1, 2, 3] }])

    // every post of either side carried one transferred, detached buffer
    const ws = await ps.request('stats')
    assert.ok(ws.posts > 0)
    assert.equal(ws.notTransferred, 0)
    assert.equal(ws.notDetached, 0)
    assert.ok(w.posts.posts > 0)
    assert.equal(w.posts.notTransferred, 0)
    assert.equal(w.posts.notDetached, 0)

    // a graceful close from main: the worker's session closes without
    // error, and the worker, having nothing left, exits
    const cbErr = await withTimeout(new Promise((resolve) => ps.close(resolve)), 5000, 'close')
    assert.ok(!cbErr)
    assert.ok(!(await withTimeout(w.closed, 5000, 'the main session closing')))
    const workerClosed = await w.waitControl((m) => 'closed' in m, 'the worker session closing')
    assert.equal(workerClosed.closed, null)
    assert.equal(await withTimeout(w.exit, 5000, 'the worker exiting by itself'), 0)
    assert.equal(w.closeCalls, 1)
  } finally {
    await stopWorker(w)
  }
})

test('a turn\'s frames leave in pieces, each ArrayBuffer transferred and detached', T, async () => {
  const w = startWorker()
  try {
    const { ps } = w
    await withTimeout(ps.request('warm up'), 5000, 'warm up')
    await tick()

    // a turn that frames under FIRST_PIECE bytes: one postMessage, at its end
    let before = { posts: w.posts.posts, arrivals: w.arrivals.messages }
    const few = []
    for (let i = 0; i < 10; i++) few.push(ps.request(i))
    assert.ok(Array.from({ length: 10 }, (_, i) => jsonFrame(i)).reduce((a, b) => a + b) < FIRST_PIECE)
    assert.equal(w.posts.posts, before.posts, 'nothing is posted within the turn')
    assert.deepEqual(await withTimeout(Promise.all(few), 5000, 'the answers'), Array.from({ length: 10 }, (_, i) => ({ echo: i, from: 'worker' })))
    await sleep(20)
    assert.equal(w.posts.posts - before.posts, 1, 'one postMessage for the 10 requests')
    // the worker answered all in one turn: more than FIRST_PIECE bytes
    const fewAnswers = pieces(Array.from({ length: 10 }, (_, i) => jsonFrame({ echo: i, from: 'worker' })))
    assert.equal(fewAnswers.length, 2)
    assert.equal(w.arrivals.messages - before.arrivals, 2, 'the 10 answers came in two pieces')

    // 64 requests in one turn: the first piece leaves as soon as it is
    // framed, so that the worker starts on it while the rest is framed
    const wsBefore = await ps.request('stats')
    await tick()
    before = { posts: w.posts.posts, arrivals: w.arrivals.messages }
    const answers = []
    for (let i = 0; i < 64; i++) answers.push(ps.request(i))
    const requestPieces = pieces(Array.from({ length: 64 }, (_, i) => jsonFrame(i)))
    assert.equal(requestPieces.length, 3)
    assert.equal(w.posts.posts - before.posts, requestPieces.length - 1, 'the full pieces left within the turn')
    const values = await withTimeout(Promise.all(answers), 5000, 'the answers')
    assert.deepEqual(values, Array.from({ length: 64 }, (_, i) => ({ echo: i, from: 'worker' })))
    await sleep(20)
    assert.deepEqual(w.posts.sizes.slice(before.posts), requestPieces, 'the pieces: 256 bytes or more each, then the rest')
    // the worker answers each piece of requests as it arrives: its answers
    // leave in no fewer pieces than answering all in one turn makes, and
    // in no more than answering each piece in a turn of its own makes
    const answerFrames = Array.from({ length: 64 }, (_, i) => jsonFrame({ echo: i, from: 'worker' }))
    let first = 0
    let most = 0
    for (const piece of requestPieces) {
      let n = 0
      for (let bytes = 0; bytes < piece; n++) bytes += jsonFrame(first + n)
      most += pieces(answerFrames.slice(first, first + n)).length
      first += n
    }
    assert.equal(first, 64)
    const arrived = w.arrivals.messages - before.arrivals
    assert.ok(arrived >= pieces(answerFrames).length && arrived <= most, `${arrived} messages of answers`)
    const wsAfter = await ps.request('stats')
    assert.equal(wsAfter.posts - wsBefore.posts, arrived + 1, 'the worker posted the answers (and the stats)')
    assert.equal(w.posts.notTransferred, 0)
    assert.equal(w.posts.notDetached, 0)
    assert.equal(wsAfter.notTransferred, 0)
    assert.equal(wsAfter.notDetached, 0)

    // the buffer itself, seen at the call
    const seen = []
    const post = w.worker.postMessage
    w.worker.postMessage = function (message, transfer) {
      const length = message.byteLength
      post.call(this, message, transfer)
      seen.push({ isArrayBuffer: message instanceof ArrayBuffer, length, transferred: transfer[0] === message, after: message.byteLength })
    }
    const u8 = new Uint8Array(1000).fill(9)
    const back = await withTimeout(ps.request(u8), 5000, 'binary')
    assert.equal(back.length, 1000)
    assert.equal(u8.byteLength, 1000, "the caller's bytes are copied into the frame, not transferred")
    assert.deepEqual(seen, [{ isArrayBuffer: true, length: 9 + 1000, transferred: true, after: 0 }])
    w.worker.postMessage = post

    await withTimeout(new Promise((resolve) => ps.close(resolve)), 5000, 'close')
  } finally {
    await stopWorker(w)
  }
})

test('the worker closes gracefully: the main session closes without error', T, async () => {
  const w = startWorker()
  try {
    assert.equal(await withTimeout(w.ps.request('close'), 5000, 'close'), 'closing')
    assert.ok(!(await withTimeout(w.closed, 5000, 'the main session closing')))
    assert.equal((await w.waitControl((m) => 'closeCallback' in m, 'the worker close callback')).closeCallback, null)
    assert.equal((await w.waitControl((m) => 'closed' in m, 'the worker session')).closed, null)
    assert.equal(await withTimeout(w.exit, 5000, 'the worker exiting'), 0)
    assert.equal(w.closeCalls, 1)
    assert.equal(w.ps.ended, true)
  } finally {
    await stopWorker(w)
  }
})

// Pending things on the main side when the worker goes: each hears the
// session's error once.
async function pendingThenGone (w, kill) {
  const calls = []
  w.ps.request('hold', (err, value) => calls.push(['cb', err, value]))
  const promised = w.ps.request('hold').then((v) => calls.push(['resolved', v]), (err) => calls.push(['rejected', err]))
  const sub = w.ps.stream()
  sub.read = (data, end) => calls.push(['sub', data, end])
  // the worker has them
  assert.deepEqual(await withTimeout(w.ps.request('ping'), 5000, 'ping'), { echo: 'ping', from: 'worker' })
  await kill()
  const err = await withTimeout(w.closed, 5000, 'the session failing')
  await promised
  await sleep(50)
  assert.ok(err instanceof Error)
  assert.equal(calls.length, 3, JSON.stringify(calls))
  assert.deepEqual(calls.filter((c) => c[0] === 'cb'), [['cb', err, undefined]])
  assert.deepEqual(calls.filter((c) => c[0] === 'rejected'), [['rejected', err]])
  assert.deepEqual(calls.filter((c) => c[0] === 'sub'), [['sub', null, err]])
  assert.equal(w.closeCalls, 1)
  const late = await new Promise((resolve) => w.ps.request('late', (e) => resolve(e)))
  assert.ok(late instanceof Error)
  return err
}

test('worker.terminate() with requests pending: rejected once with an error', T, async () => {
  const w = startWorker()
  try {
    const err = await pendingThenGone(w, () => w.worker.terminate())
    assert.match(err.message, /worker exited \(code 1\)/)
    assert.equal(await w.exit, 1)
  } finally {
    await stopWorker(w)
  }
})

test('a worker that throws (uncaught): pending requests rejected once with its error', T, async () => {
  const w = startWorker()
  try {
    const err = await pendingThenGone(w, () => { w.ps.request('throw', () => {}) })
    assert.match(err.message, /worker failed: boom in the worker/)
    assert.ok(err.cause instanceof Error)
    assert.equal(err.cause.message, 'boom in the worker')
    assert.equal(await withTimeout(w.exit, 5000, 'exit'), 1)
  } finally {
    await stopWorker(w)
  }
})

test('a worker that had exited before it was connected: the session fails, a request made right away is rejected once', T, async () => {
  const worker = new Worker('process.exit(3)', { eval: true })
  assert.equal(await new Promise((resolve) => worker.on('exit', resolve)), 3)
  const closed = deferred()
  let closeCalls = 0
  const ps = connectPort(worker, { close (err) { closeCalls++; closed.resolve(err) } })
  const calls = []
  ps.request('anyone?', (err) => calls.push(err))
  const err = await withTimeout(closed.promise, 5000, 'the session failing')
  assert.match(err.message, /worker had exited/)
  await sleep(20)
  assert.deepEqual(calls, [err])
  assert.equal(closeCalls, 1)
})

// --- a MessageChannel, both ports in this thread ---------------------------

function channelPair () {
  const { port1, port2 } = new MessageChannel()
  const side = (port, name) => {
    const s = { port, closeCalls: 0 }
    const closed = deferred()
    s.closed = closed.promise
    s.posts = countPosts(port)
    s.ps = connectPort(port, {
      ...mainService(),
      request (value, cb) {
        if (Buffer.isBuffer(value)) return cb(null, Buffer.from(value).reverse())
        if (value === 'fail') return cb(new SyntaxError(`refused by ${name}`))
        if (value === 'hold') return
        if (value === 'throw') throw new Error(`${name}'s handler failed on purpose`)
        cb(null, { echo: value, from: name })
      },
      close (err) {
        s.closeCalls++
        closed.resolve(err)
      }
    })
    return s
  }
  return { a: side(port1, 'a'), b: side(port2, 'b'), close () { port1.close(); port2.close() } }
}

async function exchange (a, b) {
  assert.deepEqual(await withTimeout(a.ps.request(1), 5000, 'a -> b'), { echo: 1, from: 'b' })
  assert.deepEqual(await withTimeout(b.ps.request('x'), 5000, 'b -> a'), { echo: 'x', from: 'a' })
  await assert.rejects(withTimeout(a.ps.request('fail'), 5000, 'fail'), { name: 'SyntaxError', message: 'refused by b' })
  await assert.rejects(withTimeout(b.ps.request('fail'), 5000, 'fail'), { name: 'SyntaxError', message: 'refused by a' })
  const bin = await withTimeout(b.ps.request(new Uint8Array([1, 2, 3])), 5000, 'binary')
  assert.ok(Buffer.isBuffer(bin))
  assert.deepEqual([...bin], [3, 2, 1])
  for (const [from, name] of [[a, 'a'], [b, 'b']]) {
    const sub = from.ps.stream()
    for (let i = 0; i < 10; i++) sub.write(`${name}${i}`)
    sub.write(Buffer.from('raw'))
    sub.end()
    const got = []
    await withTimeout((async () => { for await (const x of sub) got.push(x) })(), 5000, 'a substream')
    assert.equal(got.length, 11)
    assert.deepEqual(got.slice(0, 10), Array.from({ length: 10 }, (_, i) => ({ got: `${name}${i}` })))
    assert.equal(got[10].toString(), 'raw')
  }
  for (const s of [a, b]) {
    assert.ok(s.posts.posts > 0)
    assert.equal(s.posts.notTransferred, 0)
    assert.equal(s.posts.notDetached, 0)
  }
}

for (const closer of ['a', 'b']) {
  test(`a MessageChannel in one thread: both ways, then ${closer} closes and both end cleanly`, T, async () => {
    const pair = channelPair()
    try {
      const { a, b } = pair
      await exchange(a, b)
      const closing = pair[closer]
      const other = closer === 'a' ? b : a
      const cbErr = await withTimeout(new Promise((resolve) => closing.ps.close(resolve)), 5000, 'close')
      assert.ok(!cbErr)
      assert.ok(!(await withTimeout(closing.closed, 5000, 'the closing session')))
      assert.ok(!(await withTimeout(other.closed, 5000, 'the other session')))
      await sleep(20)
      assert.equal(a.closeCalls, 1)
      assert.equal(b.closeCalls, 1)
      assert.equal(other.ps.ended, true)
    } finally {
      pair.close()
    }
  })
}

test('a MessageChannel whose port is closed: both sessions fail, pending requests rejected once', T, async () => {
  const pair = channelPair()
  try {
    const { a, b } = pair
    assert.deepEqual(await withTimeout(a.ps.request('hi'), 5000, 'hi'), { echo: 'hi', from: 'b' })
    const calls = []
    a.ps.request('hold', (err) => calls.push(['a', err]))
    b.ps.request('hold', (err) => calls.push(['b', err]))
    await sleep(20)
    a.port.close()
    const [errA, errB] = await withTimeout(Promise.all([a.closed, b.closed]), 5000, 'both sessions failing')
    await sleep(20)
    assert.ok(errA instanceof Error)
    assert.ok(errB instanceof Error)
    assert.match(errA.message, /port closed/)
    // its close() ends a's session first, whose goodbye ends b's
    assert.equal(errB.message, 'unexpected end of parent stream')
    assert.deepEqual(calls.sort((x, y) => x[0] < y[0] ? -1 : 1), [['a', errA], ['b', errB]])
    assert.equal(a.closeCalls, 1)
    assert.equal(b.closeCalls, 1)
  } finally {
    pair.close()
  }
})

test('a MessageChannel: a handler that throws destroys its session, the goodbye ends the other; every pending callback hears it once, even past one that throws', T, async () => {
  const pair = channelPair()
  const warnings = []
  const onwarning = (w) => warnings.push(w.message)
  process.on('warning', onwarning)
  try {
    const { a, b } = pair
    const calls = []
    b.ps.request('hold', (err) => {
      calls.push(['b 1', err])
      throw new Error('a pending callback that throws too')
    })
    b.ps.request('hold', (err) => calls.push(['b 2', err]))
    a.ps.request('hold', (err) => calls.push(['a 1', err]))
    a.ps.request('throw', (err) => calls.push(['a 2', err]))
    const [errA, errB] = await withTimeout(Promise.all([a.closed, b.closed]), 5000, 'both sessions ending')
    await sleep(20)
    assert.equal(errB.message, 'packet-stream-wasm: a handler threw, the session is destroyed: b\'s handler failed on purpose')
    assert.equal(errB.cause.message, 'b\'s handler failed on purpose')
    assert.equal(errA.message, 'unexpected end of parent stream')
    assert.deepEqual(calls.sort((x, y) => x[0] < y[0] ? -1 : 1), [['a 1', errA], ['a 2', errA], ['b 1', errB], ['b 2', errB]])
    assert.deepEqual(warnings, ['b\'s handler failed on purpose', 'a pending callback that throws too'])
    assert.equal(a.closeCalls, 1)
    assert.equal(b.closeCalls, 1)
  } finally {
    process.off('warning', onwarning)
    pair.close()
  }
})

test('a MessageChannel closed while ps.close waits, and close callbacks that throw: every callback hears the end once', T, async () => {
  const { port1, port2 } = new MessageChannel()
  const warnings = []
  const onwarning = (w) => warnings.push(w.message)
  process.on('warning', onwarning)
  try {
    const heard = []
    const a = connectPort(port1, { close (err) { heard.push(['opts.close', err]); throw new Error('opts.close threw') } })
    const b = connectPort(port2, { request () {} }) // never answers
    a.request('held', (err) => heard.push(['request', err]))
    const closing = new Promise((resolve) => a.close((err) => {
      heard.push(['ps.close', err])
      resolve(err)
    }))
    await sleep(20)
    port2.close()
    const err = await withTimeout(closing, 5000, 'ps.close hearing the end')
    await sleep(20)
    assert.equal(err.message, 'unexpected end of parent stream') // b's goodbye, sent as its port closed
    assert.deepEqual(heard, [['request', err], ['opts.close', err], ['ps.close', err]])
    assert.ok(warnings.includes('opts.close threw'))
    assert.equal(a.coreMemory, 0)
    assert.equal(b.coreMemory, 0)
  } finally {
    process.off('warning', onwarning)
    port1.close()
  }
})

// Pieces let two threads work at once; where only one can run (a process
// bound to one CPU) they would only add messages, so a turn is one.
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'])
    return true
  } catch (err) {
    return false
  }
})()

test('bound to one CPU, a turn of 64 requests leaves as one postMessage', { ...T, skip: hasTaskset ? false : 'taskset (util-linux) is not here to bind a process to one CPU' }, async () => {
  const script = `
    const { MessageChannel } = require('node:worker_threads')
    const { connectPort } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const { port1, port2 } = new MessageChannel()
    const sizes = []
    const post = port1.postMessage
    port1.postMessage = function (m, transfer) { sizes.push(m.byteLength); return post.call(this, m, transfer) }
    const a = connectPort(port1)
    connectPort(port2, { request (v, cb) { cb(null, v) } })
    const answers = []
    for (let i = 0; i < 64; i++) answers.push(a.request(i))
    Promise.all(answers).then((values) => {
      console.log(JSON.stringify({ cpus: require('node:os').availableParallelism(), sizes, answered: values.length }))
      port1.close()
    })`
  const run = (args) => JSON.parse(execFileSync(args[0], args.slice(1).concat(['-e', script]), { encoding: 'utf8' }))
  const frames = Array.from({ length: 64 }, (_, i) => jsonFrame(i))
  const bound = run(['taskset', '-c', '0', process.execPath])
  assert.deepEqual(bound, { cpus: 1, sizes: [frames.reduce((x, y) => x + y)], answered: 64 })
  // and the same script on all the CPUs the tests have: pieces
  const free = run([process.execPath])
  assert.equal(free.cpus, os.availableParallelism())
  assert.ok(typeof process.getBuiltinModule === 'function', 'Node tells the CPUs a process may use (20.16 and later)')
  assert.ok(free.cpus > 1, 'the tests run with more than one CPU (CI has two)')
  assert.deepEqual(free.sizes, pieces(frames))
  assert.ok(free.sizes.length > 1)
})

// A request as the peer sends it: one frame, in an ArrayBuffer of its own.
function requestFrame (req, value) {
  const bytes = codec.encodePackets([{ req, stream: false, end: false, value }])
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
}

// Several messages of one request each that arrive in one turn are
// answered in one message at the end of the turn, not one message each.
test('a MessageChannel: answers to messages that arrive in one turn leave in one post', T, async () => {
  const { port1, port2 } = new MessageChannel()
  try {
    connectPort(port2, { request (value, cb) { cb(null, value) } })
    const posts = []
    const post = port2.postMessage
    port2.postMessage = function (message, transfer) {
      posts.push(message.byteLength)
      return post.call(this, message, transfer)
    }
    let arrived = 0
    port1.on('message', (m) => { arrived += m.byteLength })
    port1.postMessage(requestFrame(1, 1))
    await until(() => arrived === jsonFrame(1), 5000, 'the first answer')
    await tick()
    posts.length = 0
    for (let req = 2; req <= 6; req++) port1.postMessage(requestFrame(req, req))
    const answers = [2, 3, 4, 5, 6].map(jsonFrame).reduce((x, y) => x + y)
    await until(() => arrived === jsonFrame(1) + answers, 5000, 'the five answers')
    await tick()
    assert.deepEqual(posts, [answers])
  } finally {
    port1.close()
  }
})

test('a MessageChannel: one turn of substream data leaves in pieces', T, async () => {
  const pair = channelPair()
  try {
    const { a, b } = pair
    await a.ps.request('warm up')
    await tick()
    const before = a.posts.posts
    const sub = a.ps.stream()
    for (let i = 0; i < 1000; i++) sub.write(i)
    sub.end()
    const got = []
    for await (const x of sub) got.push(x)
    assert.equal(got.length, 1000)
    // the 1000 writes and the end, each 9 bytes of header and a JSON body
    const frames = Array.from({ length: 1000 }, (_, i) => jsonFrame(i)).concat(jsonFrame(true))
    assert.deepEqual(a.posts.sizes.slice(before), pieces(frames))
    await withTimeout(new Promise((resolve) => b.ps.close(resolve)), 5000, 'close')
  } finally {
    pair.close()
  }
})

// A worker that closes parentPort and goes on running: Node fires no event
// on the main thread's Worker, and the port's own 'close' comes after the
// port is closed, too late for a goodbye. The close() itself ends the
// worker's session first, so its answer and its goodbye leave: the main
// thread's pending request hears the end instead of waiting for ever.
test('a worker that closes parentPort and keeps running: its answer arrives, the main thread\'s pending request hears the end', T, async () => {
  const w = startWorker()
  try {
    const held = w.ps.request('hold').then(() => 'answered', (err) => err)
    assert.equal(await withTimeout(w.ps.request('close port'), 5000, 'the answer given with the close'), 'closing the port')
    const err = await withTimeout(held, 5000, 'the pending request hearing the end')
    assert.equal(err.message, 'unexpected end of parent stream')
    assert.equal(await withTimeout(w.closed, 5000, 'the main session ending'), err)
    assert.equal(w.closeCalls, 1)
  } finally {
    await stopWorker(w)
  }
})

// What a worker framed in the turn it calls process.exit() (an answer
// given just before) still leaves: the exit flushes it.
test('a worker that answers and calls process.exit() in the same turn: the answer arrives, then the exit', T, async () => {
  const w = startWorker()
  try {
    const held = w.ps.request('hold').then(() => 'answered', (err) => err)
    assert.equal(await withTimeout(w.ps.request('exit'), 5000, 'the answer given before the exit'), 'exiting')
    const err = await withTimeout(held, 5000, 'the pending request hearing the exit')
    assert.match(err.message, /worker exited \(code 0\)/)
    assert.equal(await w.exit, 0)
  } finally {
    await stopWorker(w)
  }
})

// One session at a time per port, and one after another: the goodbye of a
// session that closed is not answered with another (which ended the next
// session on the port); a second session while one is open is refused, as
// is something that is not a port, before anything is made.
test('sessions one after another on one MessageChannel; a second at once, or a non-port, is refused', T, async () => {
  const { port1, port2 } = new MessageChannel()
  const posts = countPosts(port2)
  try {
    for (let round = 1; round <= 3; round++) {
      let bClosed = null
      const a = connectPort(port1, {})
      const b = connectPort(port2, { request: (value, cb) => cb(null, `${value}, round ${round}`), close: (err) => { bClosed = err } })
      assert.throws(() => connectPort(port1, {}), { name: 'TypeError', message: /carries a session already/ })
      assert.equal(await withTimeout(a.request('hello'), 5000, `round ${round}`), `hello, round ${round}`)
      await new Promise((resolve, reject) => a.close((err) => err ? reject(err) : resolve()))
      await withTimeout((async () => { while (b.opts !== null) await sleep(1) })(), 5000, 'b ending on the goodbye')
      assert.equal(bClosed, null)
    }
    assert.equal(posts.posts, 3, 'b sent its three answers, and no goodbye in reply')
  } finally {
    port1.close()
    port2.close()
  }
  for (const notPort of [undefined, null, {}, { postMessage () {} }, 'port']) {
    assert.throws(() => connectPort(notPort, {}), { name: 'TypeError', message: /connectPort needs a Worker, a MessagePort or a worker's global/ })
  }
})

// A session that has ended holds nothing: its handlers, the port and what
// they refer to can be collected. The first port session of a process was
// kept for good by the closure of the process 'exit' listener made for it.
test('ended port sessions, the first of the process too, can be collected', T, () => {
  const { execFileSync } = require('node:child_process')
  const script = `
    const { MessageChannel } = require('node:worker_threads')
    const { connectPort } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const refs = []
    ;(async () => {
      for (let i = 0; i < 3; i++) {
        const { port1, port2 } = new MessageChannel()
        const handlers = { request: (v, cb) => cb(null, v) }
        refs.push(new WeakRef(handlers), new WeakRef(port1))
        const a = connectPort(port1, handlers)
        const b = connectPort(port2, {})
        await b.request('x')
        await new Promise((resolve) => a.close(resolve))
        port1.close()
        port2.close()
      }
      for (let i = 0; i < 5; i++) { await new Promise((resolve) => setTimeout(resolve, 20)); gc() }
      console.log(JSON.stringify(refs.map((r) => r.deref() !== undefined)))
    })()
  `
  const alive = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }))
  // the first two sessions (the last may still sit in the script's own
  // stack frame, whatever the library does)
  assert.deepEqual(alive.slice(0, 4), [false, false, false, false])
})
