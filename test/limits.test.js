'use strict'
// opts.limits of the drop-in API: a peer that goes over a limit destroys the
// session with a clear error that every pending callback hears once; a local
// command over a limit is refused without harming the session.
const test = require('node:test')
const assert = require('node:assert/strict')
const packets = require('..')

test('a peer over maxRequests destroys the session, pending callbacks hear it once', () => {
  const seen = []
  const a = packets({
    limits: { maxRequests: 3 },
    request (value, cb) { seen.push(['held', value]) }, // never answered
    close (err) { seen.push(['close', err && err.message]) }
  })
  const ours = []
  a.read = (msg, end) => { if (end) seen.push(['a ended', end && end.message]) }
  // a's own request, pending when the peer breaks the limit
  a.request('mine', (err) => ours.push(err && err.message))
  for (let i = 1; i <= 4; i++) a.write({ req: i, stream: false, end: false, value: i })
  assert.deepEqual(seen.slice(0, 3), [['held', 1], ['held', 2], ['held', 3]])
  assert.match(a.ended.message, /peer.*request/i)
  assert.deepEqual(ours, [a.ended.message])
  assert.equal(seen.filter((s) => s[0] === 'close').length, 1)
  assert.equal(a.coreMemory, 0) // freed
  a.write({ req: 5, stream: false, end: false, value: 5 }) // ignored after the end
  assert.equal(seen.filter((s) => s[0] === 'held').length, 3)
})

test('answered requests do not count against maxRequests', () => {
  const a = packets({ limits: { maxRequests: 2 }, request (value, cb) { cb(null, value) } })
  const out = []
  a.read = (msg) => out.push(msg)
  for (let i = 1; i <= 1000; i++) a.write({ req: i, stream: false, end: false, value: i })
  assert.equal(a.ended, false)
  assert.equal(out.length, 1000)
  assert.deepEqual(out[999], { value: 1000, end: false, req: -1000 })
})

test('requests answered NO_REQUEST_HANDLER (no request handler) do not count against maxRequests', () => {
  const a = packets({ limits: { maxRequests: 2 } })
  const out = []
  a.read = (msg) => out.push(msg)
  for (let i = 1; i <= 10; i++) a.write({ req: i, stream: false, end: false, value: i })
  assert.equal(a.ended, false)
  assert.equal(out.length, 10)
  assert.deepEqual(out[9], { value: { message: 'Unable to handle requests', name: 'NO_REQUEST_HANDLER', stack: null }, end: true, stream: false, req: -10 })
})

test('requests whose handler threw do not count against maxRequests', () => {
  const answers = []
  let later = null
  const a = packets({
    limits: { maxRequests: 3 },
    request (value, cb) {
      if (value === 'throw') throw new Error('bad input')
      if (value === 'throw after keeping cb') {
        later = cb
        throw new Error('bad input, answered later')
      }
      cb(null, value)
    }
  })
  a.read = (msg) => { if (msg) answers.push([msg.req, msg.value]) }
  for (let i = 1; i <= 5; i++) assert.throws(() => a.write({ req: i, stream: false, end: false, value: 'throw' }), /bad input/)
  assert.throws(() => a.write({ req: 6, stream: false, end: false, value: 'throw after keeping cb' }), /answered later/)
  later(null, 'late') // an answer after the throw counts once, not twice
  for (let i = 7; i <= 9; i++) a.write({ req: i, stream: false, end: false, value: i })
  assert.equal(a.ended, false)
  assert.deepEqual(answers, [[-6, 'late'], [-7, 7], [-8, 8], [-9, 9]])
  assert.throws(() => later(null, 'twice'), /cb called twice/)
})

test('a peer over maxStreams destroys the session', () => {
  const a = packets({ limits: { maxStreams: 2 }, stream (s) { s.read = () => {} } })
  a.read = () => {}
  for (let i = 1; i <= 3; i++) a.write({ req: i, stream: true, end: false, value: i })
  assert.match(a.ended.message, /peer.*substream/i)
})

test('local commands over a limit are refused, the session lives on', () => {
  const a = packets({ limits: { maxRequests: 1, maxStreams: 1 } })
  const b = packets({ request (value, cb) { cb(null, value) } })
  const errs = []
  a.read = () => {} // requests stay open: nothing answers
  a.request(1, () => {})
  a.request(2, (err) => errs.push(err.message))
  a.stream()
  assert.throws(() => a.stream(), /substream/i)
  assert.equal(errs.length, 1)
  assert.match(errs[0], /request/i)
  assert.equal(a.ended, false)
  // b is unaffected and still works
  let answer
  b.read = (msg) => { answer = msg }
  b.write({ req: 1, stream: false, end: false, value: 'x' })
  assert.deepEqual(answer, { value: 'x', end: false, req: -1 })
})

test('limits that are not integers in range are refused up front, naming the option', () => {
  const { connectStream, codec } = require('..')
  const { PassThrough } = require('node:stream')
  const bad = [
    [{ maxFrame: 2 ** 32 + 100 }, /limits\.maxFrame must be an integer from 1 to 2147483632, not 4294967396/],
    [{ maxOutbuf: 2 ** 32 }, /limits\.maxOutbuf/],
    [{ maxOutbuf: 2 ** 31 }, /limits\.maxOutbuf/],
    [{ maxRequests: Infinity }, /limits\.maxRequests/],
    [{ maxStreams: 0 }, /limits\.maxStreams .* not 0/],
    [{ maxFrame: 1.5 }, /limits\.maxFrame/],
    [{ maxFrame: '1024' }, /limits\.maxFrame/],
    [{ maxRequests: null }, /limits\.maxRequests/],
    [{ maxRequests: 3000000, maxStreams: 3000000 }, /maxRequests \+ limits\.maxStreams/]
  ]
  for (const [limits, message] of bad) {
    assert.throws(() => packets({ limits }), (err) => err instanceof RangeError && message.test(err.message), JSON.stringify(limits))
  }
  // the wire transports and the codec check theirs the same way
  assert.throws(() => connectStream(new PassThrough(), { limits: { maxFrame: -1 } }), /limits\.maxFrame/)
  // and a WebSocket's highWaterMark (a negative one would never drain)
  const { connectWebSocket } = require('..')
  const fakeSocket = { readyState: 0, binaryType: 'blob', addEventListener () {}, removeEventListener () {} }
  for (const highWaterMark of [-1, '1mb', null, NaN]) {
    assert.throws(() => connectWebSocket(fakeSocket, { highWaterMark }), (err) => err instanceof RangeError && /highWaterMark/.test(err.message), String(highWaterMark))
  }
  assert.throws(() => codec.encode({ maxOutbuf: 2 ** 32 + 4096 })((end, cb) => cb(true))(null, () => {}), /limits\.maxOutbuf/)
  // the largest values are taken
  const big = packets({ limits: { maxFrame: 2147483632, maxOutbuf: 2147483632, maxRequests: 1, maxStreams: 4194302 } })
  big.destroy(true)
})

test('packets whose req is not a 32-bit integer are dropped, logged when debugging; the session stays healthy', () => {
  const seen = []
  const a = packets({
    request (value, cb) { seen.push(value); cb(null, value) },
    stream (s) { seen.push('stream ' + s.id) }
  })
  const sent = []
  a.read = (msg) => sent.push(msg)
  const logged = []
  const error = console.error
  console.error = (...args) => logged.push(args[0])
  try {
    for (const req of ['2', 1.5, 2 ** 31, -(2 ** 31) - 1, true, Infinity, NaN]) {
      a.write({ req, stream: false, end: false, value: 'odd' })
      a.write({ req, stream: true, end: false, value: 'odd' })
    }
    assert.deepEqual(logged, [])
    packets.debug = true
    a.write({ req: '3', stream: false, end: false, value: 'odd' })
    assert.equal(logged.length, 1)
    assert.match(logged[0], /req is not a 32-bit integer/)
  } finally {
    packets.debug = false
    console.error = error
  }
  assert.deepEqual(seen, [])
  a.write({ req: 4, stream: false, end: false, value: 'fine' })
  assert.deepEqual(seen, ['fine'])
  assert.deepEqual(sent.map((m) => [m.req, m.value]), [[-4, 'fine']])
  assert.equal(a.ended, false)
})

test('the core\'s memory grows ahead, not a page per allocation: 2,000 framers each holding part of a 64 KiB frame grow it a few dozen times', { timeout: 30000 }, () => {
  const { execFileSync } = require('node:child_process')
  const fixture = require('node:path').join(__dirname, 'fixtures', 'memory-growth.js')
  const got = JSON.parse(execFileSync(process.execPath, [fixture, '2000'], { encoding: 'utf8' }))
  assert.ok(got.held >= 2000 * 65536, `held ${got.held} bytes`)
  assert.ok(got.held <= 2000 * 65536 * 1.25 + (8 << 20), `grown ahead by at most an eighth and then some: held ${got.held} bytes`)
  assert.ok(got.growths <= 60, `grew ${got.growths} times (a growth per allocation would be about 2,000)`)
})
