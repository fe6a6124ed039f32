'use strict'
// Wire interop of the C core with packet-stream-codec@1.2.0, both ways,
// through the native test CLI (build/ps_cli, built by build.sh): bytes our
// core frames decode there to the same packets, and bytes it frames decode
// here to the same packets, in any chunking.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const pull = require('pull-stream')
const psc = require('packet-stream-codec')
const { frames } = require('./helpers/refstack')

const CLI = path.join(__dirname, '..', 'build', 'ps_cli')
const GOODBYE = Buffer.alloc(9)

const hex = (buf) => (buf.length ? buf.toString('hex') : '-')
const jsonHex = (v) => hex(Buffer.from(JSON.stringify(v)))
const strHex = (s) => hex(Buffer.from(s, 'utf8'))

function ourEncode (script) {
  return execFileSync(CLI, ['encode'], { input: script.join('\n') + '\n' })
}

function ourDecode (bytes, chunk = 0) {
  let out
  try {
    out = execFileSync(CLI, ['decode', String(chunk)], { input: bytes, stdio: 'pipe' })
  } catch (err) {
    if (err.status !== 1) throw err
    out = err.stdout // a protocol error: reported on stdout, exit status 1
  }
  return out.toString().trim().split('\n').filter(Boolean)
    .map((line) => (line === 'goodbye' ? line : JSON.parse(line)))
}

// Runs the reference decoder over |bytes| delivered in chunks of the given
// sizes, one chunk per turn of the event loop (pull-reader recurses per
// chunk, and a long run of tiny chunks would overflow the stack).
function theirDecode (bytes, chunkSizes) {
  const chunks = []
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = chunkSizes ? chunkSizes[k % chunkSizes.length] : bytes.length
    chunks.push(bytes.subarray(i, i + n))
    i += n
  }
  return new Promise((resolve, reject) => {
    pull(
      pull.values(chunks),
      pull.asyncMap((chunk, cb) => setImmediate(cb, null, chunk)),
      psc.decode(),
      pull.collect((err, msgs) => (err ? reject(err) : resolve(msgs)))
    )
  })
}


// Every kind of body and header the protocol has.
const unicode = 'héllo wörld ✓ 🎉'
const big = Buffer.alloc(100000).map((_, i) => (i * 7) & 0xff)
const packets = [
  { req: 0, stream: false, end: false, value: 'hello' },
  { req: 0, stream: false, end: false, value: unicode },
  { req: 0, stream: false, end: false, value: { a: [1, 2, { b: null }], s: 'x' } },
  { req: 0, stream: false, end: false, value: Buffer.from([0, 1, 0xfe, 0xff]) },
  { req: 1, stream: false, end: false, value: { name: 'whoami', args: [] } },
  { req: -1, stream: false, end: false, value: 42 },
  { req: -3, stream: false, end: true, value: { message: 'nope', name: 'Error', stack: 'at x' } },
  { req: 2, stream: true, end: false, value: 'chunk' },
  { req: 2, stream: true, end: false, value: big },
  { req: -2, stream: true, end: false, value: [true, false] },
  { req: 2, stream: true, end: true, value: true },
  { req: 2147483647, stream: true, end: false, value: 'max id' },
  { req: -2147483647, stream: false, end: false, value: 'min id' }
]

function typeOf (value) {
  if (typeof value === 'string') return 1
  if (Buffer.isBuffer(value)) return 0
  return 2
}

function bodyOf (value) {
  const t = typeOf(value)
  if (t === 1) return Buffer.from(value, 'utf8')
  if (t === 0) return value
  return Buffer.from(JSON.stringify(value))
}

function asDecodedHere (p) {
  return { req: p.req, stream: p.stream, end: p.end, type: typeOf(p.value), body: bodyOf(p.value).toString('hex') }
}

test('bytes framed by packet-stream-codec decode here to the same packets, in any chunking', () => {
  const bytes = Buffer.concat([frames(packets), GOODBYE])
  const expected = [...packets.map(asDecodedHere), 'goodbye']
  for (const chunk of [0, 1, 2, 3, 5, 8, 9, 10, 13, 64, 4096, 99999]) {
    assert.deepEqual(ourDecode(bytes, chunk), expected, `chunk ${chunk}`)
  }
})

test('an end without a value carries JSON true, as the reference frames it', () => {
  const bytes = frames([{ req: 5, stream: true, end: true }])
  assert.deepEqual(ourDecode(bytes), [{ req: 5, stream: true, end: true, type: 2, body: strHex('true') }])
})

// A script for the CLI that frames the same packets through a session
// (requests and substreams through the state machine; responses and
// packets on numbers the session did not open framed by hand).
function scriptFor () {
  return [
    `message 1 ${strHex('hello')}`,
    `message 1 ${strHex(unicode)}`,
    `message 2 ${jsonHex(packets[2].value)}`,
    `message 0 ${hex(packets[3].value)}`,
    `request 2 ${jsonHex(packets[4].value)}`, // number 1
    `frame 0 2 -1 ${jsonHex(42)}`,
    `frame 4 2 -3 ${jsonHex(packets[6].value)}`,
    'stream', // number 2
    `write 2 1 ${strHex('chunk')}`,
    `write 2 0 ${hex(big)}`,
    `frame 8 2 -2 ${jsonHex([true, false])}`,
    `end 2 2 ${jsonHex(true)}`,
    `frame 8 1 2147483647 ${strHex('max id')}`,
    `frame 0 1 -2147483647 ${strHex('min id')}`,
    'frame 0 0 0 -' // the goodbye, by hand: requests are still open
  ]
}

test('bytes framed here decode in packet-stream-codec to the same packets, in any chunking', async () => {
  const bytes = ourEncode(scriptFor())
  assert.deepEqual(bytes, Buffer.concat([frames(packets), GOODBYE]), 'byte for byte')
  for (const sizes of [null, [1], [2, 7], [9], [10, 1, 100], [65536]]) {
    const msgs = await theirDecode(bytes, sizes)
    assert.equal(msgs.length, packets.length + 1)
    assert.equal(msgs.at(-1), 'GOODBYE')
    msgs.slice(0, -1).forEach((m, i) => {
      const p = packets[i]
      assert.equal(m.req, p.req)
      assert.equal(m.stream, p.stream)
      assert.equal(m.end, p.end)
      assert.equal(m.type, typeOf(p.value))
      assert.deepEqual(m.value, p.value, `packet ${i}`)
    })
  }
})

test('a graceful close with nothing open frames the goodbye', async () => {
  const bytes = ourEncode([`message 1 ${strHex('bye')}`, 'close'])
  const msgs = await theirDecode(bytes)
  assert.deepEqual(msgs.map((m) => (typeof m === 'string' ? m : m.value)), ['bye', 'GOODBYE'])
})

test('documented quirk: the reference takes an empty body for goodbye; we do not', async () => {
  const bytes = Buffer.concat([ourEncode([`message 1 -`, `message 1 ${strHex('after')}`])])
  // packet-stream-codec stops at the empty string
  assert.deepEqual(await theirDecode(bytes), ['GOODBYE'])
  // between two cores it arrives intact
  assert.deepEqual(ourDecode(bytes).map((p) => p.body), ['', strHex('after')])
  // an empty *binary* message would be nine zero bytes: the core refuses it
  assert.throws(() => execFileSync(CLI, ['encode'], { input: 'message 0 -\n', stdio: 'pipe' }),
    /empty binary message is indistinguishable from goodbye/)
})

test('malformed input is a clear error, never a packet', () => {
  const type3 = Buffer.from('030000000100000001ff', 'hex')
  const [err] = ourDecode(type3)
  assert.equal(err.message, 'peer sent a frame with invalid body type 3')
  const huge = Buffer.from('0201000001000000017b', 'hex') // 16 MiB + 1
  assert.equal(ourDecode(huge)[0].message, 'peer sent a frame larger than the frame limit')
})
