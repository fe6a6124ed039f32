'use strict'
// The forms this package adds to packet-stream 2.0.6's callbacks, over a
// pair of sessions wired in memory: ps.request(value) without a callback
// returns a promise, and substreams are async-iterable for reading. Each
// must settle exactly once whatever ends the session or the substream.
const test = require('node:test')
const assert = require('node:assert/strict')
const packets = require('..')
const { withTimeout, sleep } = require('./helpers/wait')

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
  ['destroy(true)', 'unexpected end of parent stream'],
  ['destroy(err)', 'gone']
]) {
  test(`promise requests: a session ended with ${how} rejects each pending one once`, async () => {
    const { a } = pair()
    const pending = [outcome(a.request('hold')), outcome(a.request('hold'))]
    if (how === 'destroy()') a.destroy()
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

test('async iteration: ends that carry no error end the loop (destroy() of the session or of the substream, a null end)', async () => {
  const ends = {
    'ps.destroy()': ({ a }) => a.destroy(),
    'sub.destroy()': ({ sub }) => sub.destroy(),
    'the peer ends with null': ({ a, sub }) => a.write({ req: -sub.id, stream: true, end: true, value: null })
  }
  for (const [how, end] of Object.entries(ends)) {
    let peer
    const s = substream((p) => { peer = p })
    const loop = collect(s.sub)
    peer.write(1)
    await sleep(1)
    end({ ...s, peer })
    const result = await withTimeout(loop, 2000, `the loop after ${how}`)
    assert.deepEqual(result.got, [1], how)
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

test('async iteration: leaving the loop early ends the substream, and a pending next() is done', async () => {
  let peer
  let peerEnd = null
  const { sub } = substream((s) => {
    peer = s
    s.read = (data, end) => { if (end) peerEnd = end }
  })
  const it = sub[Symbol.asyncIterator]()
  peer.write(1)
  assert.deepEqual(await it.next(), { value: 1, done: false })
  const pending = it.next()
  assert.deepEqual(await it.return(), { value: undefined, done: true })
  assert.deepEqual(await withTimeout(pending, 2000, 'the pending next()'), { value: undefined, done: true })
  assert.equal(peerEnd, true)
  assert.equal(sub.readEnd, true)
  assert.equal(sub.writeEnd, true)
})
