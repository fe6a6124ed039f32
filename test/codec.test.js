'use strict'
// The codec (require('packet-stream-wasm').codec) against its reference,
// packet-stream-codec@1.2.0: the same bytes out of the encoder, the same
// packets out of the decoder in any chunking, the duplex form muxrpc uses,
// errors that end the stream with the core's code after the good packets,
// aborts passed upstream, bursts, and the framer's memory.
const test = require('node:test')
const assert = require('node:assert/strict')
const { isDeepStrictEqual } = require('node:util')
const pull = require('pull-stream')
const ref = require('packet-stream-codec')
const codec = require('..').codec
const C = require('../js/constants')
const { mulberry32: prng } = require('./helpers/rng')

const E = C.errors

// ---- helpers ---------------------------------------------------------------

// |bytes| cut into pieces of 1..max bytes, at random.
function chunkings (bytes, rand, max) {
  const out = []
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(rand() * max)
    out.push(bytes.subarray(i, i + n))
    i += n
  }
  return out
}

function fixedChunks (bytes, size) {
  const out = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

function binary (size, seed = 1) {
  const b = Buffer.alloc(size)
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed * 7 + (i >>> 8)) & 255
  return b
}

// Runs |source| through |throughs|; resolves { items, end } where end is
// null for a clean end, else the error.
function run (source, ...throughs) {
  return new Promise((resolve) => {
    const items = []
    pull(source, ...throughs, pull.drain((x) => { items.push(x) }, (err) => resolve({ items, end: err || null })))
  })
}

// A source of |items| that records how it was ended: .aborted is the abort
// it was given (or null), .reads the number of reads it answered. With
// |hang|, it never answers the read after the last item (until aborted).
function tracked (items, { hang = false, async = false } = {}) {
  let i = 0
  let pending = null
  const src = function (abort, cb) {
    if (abort) {
      src.aborted = abort
      if (pending) { const p = pending; pending = null; p(abort) }
      return cb(abort)
    }
    if (src.aborted) return cb(src.aborted)
    if (i >= items.length) {
      if (hang) { pending = cb; return }
      return cb(true)
    }
    const item = items[i++]
    src.reads++
    if (async) setImmediate(() => cb(null, item))
    else cb(null, item)
  }
  src.aborted = null
  src.reads = 0
  return src
}

async function refEncode (packets) {
  const { items, end } = await run(pull.values(packets), ref.encode())
  assert.equal(end, null)
  return Buffer.concat(items)
}

async function oursEncode (packets, limits) {
  const { items, end } = await run(pull.values(packets), codec.encode(limits))
  assert.equal(end, null)
  for (const b of items) assert.ok(Buffer.isBuffer(b), 'the encoder hands out Buffers')
  return Buffer.concat(items)
}

// What packet-stream-codec's decoder gives, without its extra fields
// (length, type), which ours does not add.
function strip (p) {
  if (p === 'GOODBYE') return p
  const { req, stream, end, value } = p
  return { req, stream, end, value }
}

// A packet as a decoder gives it back: stream and end as booleans, an end
// without a value as JSON true, a string through UTF-8 (a lone surrogate
// comes back as U+FFFD).
function decoded (p) {
  if (p === 'GOODBYE') return p
  let value = p.value !== undefined ? p.value : p.end
  if (typeof value === 'string') value = Buffer.from(value, 'utf8').toString('utf8')
  return { req: p.req | 0, stream: !!p.stream, end: !!p.end, value }
}

async function refDecode (chunks) {
  const { items, end } = await run(pull.values(chunks), ref.decode())
  return { items: items.map(strip), end }
}

async function oursDecode (chunks, limits) {
  const { items, end } = await run(pull.values(chunks), codec.decode(limits))
  for (const p of items) {
    if (p !== 'GOODBYE') assert.deepEqual(Object.keys(p), ['req', 'stream', 'end', 'value'])
  }
  return { items, end }
}

// Asserts two byte sequences are equal, naming the first difference.
function sameBytes (actual, expected, what) {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length)
  if (a.equals(expected)) return
  let i = 0
  while (i < a.length && i < expected.length && a[i] === expected[i]) i++
  assert.fail(`${what}: ${a.length} bytes, expected ${expected.length}; first difference at byte ${i}`)
}

// Asserts decoded packets equal, packet by packet, with short messages
// (assert's diff of MiBs of values would take minutes to print).
function samePackets (actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} packets, expected ${expected.length}`)
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]
    const e = expected[i]
    const where = `${what}: packet ${i}`
    if (typeof e === 'string' || typeof a === 'string') {
      assert.equal(a, e, where)
      continue
    }
    assert.deepEqual({ ...a, value: null }, { ...e, value: null }, where)
    if (Buffer.isBuffer(e.value)) {
      assert.ok(Buffer.isBuffer(a.value), `${where}: a Buffer`)
      sameBytes(a.value, e.value, where)
    } else if (JSON.stringify(e.value).length > 1000) {
      if (!isDeepStrictEqual(a.value, e.value)) assert.fail(`${where}: the values differ`)
    } else {
      assert.deepEqual(a.value, e.value, where)
    }
  }
}

// The same for what run() resolves to.
function sameDecode (actual, expected, what) {
  samePackets(actual.items, expected.items, what)
  assert.equal(actual.end, expected.end, `${what}: the end`)
}

function assertCoreError (err, code) {
  assert.ok(err instanceof Error, `expected an Error with code ${code}, got ${err}`)
  assert.equal(err.code, code)
  assert.equal(err.message, C.messages[code])
}

// ---- the packets -------------------------------------------------------------

const flat = (message) => ({ message, name: 'Error', stack: `Error: ${message}\n    at somewhere (file.js:1:1)` })
const kib64 = binary(64 * 1024, 2)
const mib8 = binary(8 * 1024 * 1024, 3)

// Everything packet-stream sends, with values of every type; no empty
// string or Buffer bodies (see the test of those below).
const smallPackets = [
  { req: 0, stream: false, end: false, value: 'a message' },
  { req: 0, stream: false, end: false, value: { type: 'hello', n: 1 } },
  { req: 1, stream: false, end: false, value: { name: ['echo'], args: [1, 'two'], type: 'async' } },
  { req: -1, stream: false, end: false, value: 'an answer' },
  { value: flat('boom'), end: true, req: -2 }, // packet-stream's error answer has no stream field
  { req: 3, stream: true, end: false, value: { name: ['items'], args: [10], type: 'source' } },
  { req: -3, stream: true, end: false, value: 'stream data' },
  { req: -3, stream: true, end: false, value: Buffer.from([0xa5]) },
  { req: -3, stream: true, end: true, value: true }, // a clean end
  { req: 4, stream: true, end: true }, // no value: the body is JSON true
  { req: 5, stream: true, end: true, value: flat('stream failed') }, // an error end
  { req: -6, stream: false, end: true, value: { message: 'Unable to handle requests', name: 'NO_REQUEST_HANDLER', stack: null } },
  { req: 7, stream: false, end: false, value: 'héllo wörld — ✓ ünïcödé' },
  { req: 7, stream: false, end: false, value: '😀👍🏽🇳🇿 emoji, astral: 𝄞' },
  { req: 7, stream: false, end: false, value: 'lone surrogate \ud800 and \udc00' }, // both write U+FFFD
  { req: 8, stream: false, end: false, value: 42 },
  { req: 8, stream: false, end: false, value: -1.5e-7 },
  { req: 8, stream: false, end: false, value: 0 },
  { req: 8, stream: false, end: false, value: null },
  { req: 8, stream: false, end: false, value: true },
  { req: 8, stream: false, end: false, value: false },
  { req: 8, stream: false, end: false, value: [] },
  { req: 8, stream: false, end: false, value: {} },
  { req: 8, stream: false, end: false, value: [1, [2, { a: null, b: 'c\u0000d', e: '😀' }], -0.25] },
  { req: 2147483647, stream: true, end: false, value: 'largest request number' },
  { req: -2147483648, stream: true, end: false, value: 'smallest request number' },
  { req: 9, stream: true, end: false, value: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0]) },
  { req: 14, stream: 1, end: 1, value: 'flags given as numbers' }
]

const bigPackets = [
  ...smallPackets.slice(0, 4),
  { req: 10, stream: true, end: false, value: kib64 },
  { req: 11, stream: false, end: false, value: 'x'.repeat(100000) },
  { req: 11, stream: false, end: false, value: '€😀'.repeat(30000) }, // 210000 bytes
  { req: 12, stream: false, end: false, value: { list: Array.from({ length: 5000 }, (_, i) => ({ i, s: 'v' + i })) } },
  // over 256 KiB: gathered outside the core when they arrive in pieces
  { req: 14, stream: true, end: false, value: '€😀'.repeat(50000) }, // 350000 bytes
  { req: -14, stream: true, end: true, value: { message: 'm'.repeat(300000), name: 'Error', stack: null } },
  { req: 15, stream: false, end: false, value: binary(300000, 5) },
  ...smallPackets.slice(4)
]

const hugePackets = [smallPackets[0], { req: 13, stream: true, end: false, value: mib8 }, smallPackets[1]]

// ---- encode ------------------------------------------------------------------

test('encode: encodePackets and encode() give the bytes of packet-stream-codec, packet by packet', async () => {
  for (const p of [...bigPackets, 'GOODBYE']) {
    const expected = await refEncode([p])
    const what = p === 'GOODBYE' ? 'GOODBYE' : JSON.stringify(p).slice(0, 60)
    sameBytes(codec.encodePackets([p]), expected, `encodePackets ${what}`)
    sameBytes(await oursEncode([p]), expected, `encode() ${what}`)
  }
})

test('encode: whole streams, small, big and with an 8 MiB Buffer, end in the same bytes', async () => {
  for (const packets of [smallPackets, [...bigPackets, 'GOODBYE'], hugePackets]) {
    const expected = await refEncode(packets)
    sameBytes(codec.encodePackets(packets), expected, 'encodePackets')
    sameBytes(await oursEncode(packets), expected, 'encode()')
  }
  assert.equal((await refEncode(['GOODBYE'])).toString('hex'), '00'.repeat(9))
})

test('encode: a value at exactly maxFrame is framed, whatever its type', async () => {
  const limits = { maxFrame: 1024 }
  const packets = [
    { req: 1, stream: false, end: false, value: binary(1024) },
    { req: 1, stream: false, end: false, value: 'a'.repeat(1024) }, // 3 bytes a char would be over: counted exactly
    { req: 1, stream: false, end: false, value: '€'.repeat(341) + 'a' }, // 1024 bytes of UTF-8
    { req: 1, stream: false, end: false, value: ['x'.repeat(1020)] } // ["…"]: 1024 bytes of JSON
  ]
  const expected = await refEncode(packets)
  sameBytes(codec.encodePackets(packets, limits), expected, 'encodePackets')
  sameBytes(await oursEncode(packets, limits), expected, 'encode()')
})

// packet-stream-codec's decoder takes *any* header with length 0 for the
// goodbye: an empty string or Buffer sent to it ends the connection there
// (its own encoder frames them, as ours does, with the same bytes). Ours
// takes only the all-zero header for the goodbye, so empty bodies arrive.
test('empty string and Buffer bodies: the same bytes, and ours decodes them (the reference takes them for goodbye)', async () => {
  const packets = [
    { req: 1, stream: false, end: false, value: '' },
    { req: -1, stream: true, end: false, value: Buffer.alloc(0) },
    { req: 0, stream: false, end: false, value: 'after the empty ones' }
  ]
  const bytes = await refEncode(packets)
  sameBytes(codec.encodePackets(packets), bytes, 'encodePackets')
  sameBytes(await oursEncode(packets), bytes, 'encode()')
  const ours = await oursDecode([bytes])
  assert.equal(ours.end, null)
  assert.deepEqual(ours.items, packets)
  assert.deepEqual(codec.decodePackets(bytes), packets)
  // the reference's quirk, documented above
  const theirs = await refDecode([bytes])
  assert.deepEqual(theirs.items, ['GOODBYE'])
})

// packet-stream-codec frames an empty Buffer message with request 0 as nine
// zero bytes: the goodbye, which ends the connection at the peer. The core
// refuses to frame it (ERR_GOODBYE_COLLISION); the stream ends with that
// error after what came before, and the packet source is aborted.
test('an empty binary message with request 0 is refused: its header would be the goodbye', async () => {
  const collision = { req: 0, stream: false, end: false, value: Buffer.alloc(0) }
  assert.equal((await refEncode([collision])).toString('hex'), '00'.repeat(9))
  assert.throws(() => codec.encodePackets([collision]), (err) => err.code === E.ERR_GOODBYE_COLLISION)
  const src = tracked([goodOnes[0], collision, goodOnes[1]])
  const { items, end } = await run(src, codec.encode())
  sameBytes(Buffer.concat(items), await refEncode([goodOnes[0]]), 'the bytes before it')
  assertCoreError(end, E.ERR_GOODBYE_COLLISION)
  assert.equal(src.aborted, end)
  // with anything that makes the header non-zero, it is an ordinary packet
  for (const p of [{ ...collision, req: 1 }, { ...collision, stream: true }, { ...collision, end: true }]) {
    samePackets(codec.decodePackets(codec.encodePackets([p])), [p], JSON.stringify(p))
  }
})

// ---- decode ------------------------------------------------------------------

test('decode: reference-encoded streams in random chunkings (1-byte chunks too) give the reference decoder\'s packets', async () => {
  const bytes = await refEncode([...smallPackets, 'GOODBYE'])
  const expected = await refDecode([bytes])
  assert.equal(expected.items.length, smallPackets.length + 1)
  assert.equal(expected.items[expected.items.length - 1], 'GOODBYE')
  // the reference and ours on the same chunkings
  for (let seed = 1; seed <= 60; seed++) {
    const rand = prng(seed)
    const max = [1, 2, 3, 9, 10, 17, 64, 500, 4096][seed % 9]
    const chunks = chunkings(bytes, rand, max)
    const ours = await oursDecode(chunks)
    sameDecode(ours, expected, `seed ${seed}, chunks of 1..${max}`)
    if (seed <= 9) sameDecode(await refDecode(chunks), expected, `reference, seed ${seed}`)
  }
  // and each packet in a chunk of its own, all in one chunk, byte by byte
  sameDecode(await oursDecode(fixedChunks(bytes, 1)), expected, 'bytewise')
  sameDecode(await oursDecode([bytes]), expected, 'one chunk')
  samePackets(codec.decodePackets(bytes), expected.items, 'decodePackets')
})

test('decode: big bodies (64 KiB, long strings, an 8 MiB Buffer) in random chunkings', async () => {
  const big = await refEncode([...bigPackets, 'GOODBYE'])
  const expectedBig = await refDecode([big])
  for (let seed = 100; seed < 112; seed++) {
    const max = [7, 1000, 65536, 300000][seed % 4]
    const chunks = chunkings(big, prng(seed), max)
    sameDecode(await oursDecode(chunks), expectedBig, `seed ${seed}, chunks of 1..${max}`)
  }
  const huge = await refEncode(hugePackets)
  const expectedHuge = await refDecode(fixedChunks(huge, 65536))
  assert.equal(expectedHuge.items.length, 3)
  for (let seed = 200; seed < 203; seed++) {
    const chunks = chunkings(huge, prng(seed), [65536, 1 << 20, 20000][seed % 3])
    sameDecode(await oursDecode(chunks), expectedHuge, `seed ${seed}`)
  }
})

test('decode: a binary value that lies whole in its chunk and is at least 1/64 of it is a view of the chunk; others are copies; none is a view of the core\'s memory', () => {
  const { core } = require('../js/wasm')
  const sizes = [10, 1000, 2000, 5000, 70000]
  const packets = sizes.map((n, i) => ({ req: i + 1, stream: true, end: false, value: binary(n, i + 40) }))
  const bytes = Buffer.from(codec.encodePackets(packets))
  const shareFrom = Math.ceil(bytes.length / 64) // 1,220 bytes: 2000 and up are shared
  const decodeIn = (chunks) => {
    const framer = new codec.Framer()
    const out = []
    for (const chunk of chunks) assert.equal(framer.decode(chunk, out), null)
    framer.free()
    return out
  }
  const whole = decodeIn([bytes])
  const viewOf = (value, chunk) => value.buffer === chunk.buffer && value.byteOffset >= chunk.byteOffset && value.byteOffset + value.length <= chunk.byteOffset + chunk.length
  for (let i = 0; i < sizes.length; i++) {
    const value = whole[i].value
    assert.ok(Buffer.isBuffer(value), `packet ${i}: a Buffer`)
    assert.ok(value.equals(packets[i].value), `packet ${i}: its bytes`)
    assert.notEqual(value.buffer, core.memory.buffer, `packet ${i}: not in the core's memory`)
    assert.equal(viewOf(value, bytes), sizes[i] >= shareFrom, `packet ${i} (${sizes[i]} bytes): shared iff at least ${shareFrom}`)
  }
  // cut in the middle of the last body: that one is put together in the
  // core, so it is a copy; the others lie whole in the first chunk
  const cut = bytes.length - 30000
  const first = Uint8Array.prototype.slice.call(bytes, 0, cut)
  const split = decodeIn([first, bytes.subarray(cut)])
  for (let i = 0; i < sizes.length; i++) assert.ok(split[i].value.equals(packets[i].value), `split, packet ${i}`)
  assert.ok(!viewOf(split[4].value, bytes) && split[4].value.buffer !== first.buffer, 'the split body is a copy')
  assert.ok(split[3].value.buffer === first.buffer, 'a whole body of the first chunk is a view of it')
  // writing to a shared value changes no other value
  whole[3].value.fill(0)
  for (const i of [0, 1, 2, 4]) assert.ok(whole[i].value.equals(packets[i].value))
})

test('decode: a chunk decoded in parts (from, to) gives the same packets, and what a view may hold is measured against the whole chunk', async () => {
  const sizes = [10, 1000, 2000, 5000, 70000, 3, 1500]
  const packets = sizes.map((n, i) => ({ req: i + 1, stream: true, end: false, value: binary(n, i + 50) }))
  const bytes = Buffer.from(codec.encodePackets(packets))
  const shareFrom = Math.ceil(bytes.length / 64)
  for (const step of [1, 7, 4096, 65536]) {
    const framer = new codec.Framer()
    const out = []
    for (let from = 0; from < bytes.length; from += step) assert.equal(framer.decode(bytes, out, from, Math.min(bytes.length, from + step)), null)
    assert.equal(framer.midframe, false)
    framer.free()
    assert.equal(out.length, sizes.length, `step ${step}`)
    out.forEach((p, i) => {
      assert.ok(p.value.equals(packets[i].value), `step ${step}, packet ${i}`)
      // a view only of a body whole in its part, and never of one under 1/64 of the whole chunk
      if (p.value.buffer === bytes.buffer) assert.ok(sizes[i] >= shareFrom && sizes[i] <= step, `step ${step}, packet ${i}`)
    })
  }
  // the codec steps through a large chunk the same way: the same packets as
  // the reference, in one chunk of 2.7 MiB of small packets and large bodies
  const many = []
  for (let i = 0; i < 60000; i++) many.push({ req: i + 1, stream: false, end: false, value: i % 1000 === 0 ? binary(20000, i) : { i, s: 'x' } })
  const big = await refEncode(many)
  assert.ok(big.length > 2 << 20)
  sameDecode(await oursDecode([big]), await refDecode([big]), 'one chunk of 2.7 MiB')
})

test('decode: binary values are Buffers; writing to one changes no other', async () => {
  const packets = Array.from({ length: 200 }, (_, i) => ({ req: i, stream: true, end: false, value: binary(1 + i * 37, i) }))
  const bytes = await refEncode(packets)
  const { items, end } = await oursDecode(chunkings(bytes, prng(7), 5000))
  assert.equal(end, null)
  for (let i = 0; i < packets.length; i++) {
    assert.ok(Buffer.isBuffer(items[i].value))
    assert.ok(items[i].value.equals(packets[i].value), `packet ${i}`)
  }
  items[0].value.fill(0) // writing to one changes no other
  assert.ok(items[1].value.equals(packets[1].value))
})

test('decode: bytes after the goodbye are ignored, the stream ends cleanly', async () => {
  const good = await refEncode(smallPackets.slice(0, 6))
  const after = Buffer.concat([
    await refEncode(smallPackets.slice(6, 9)), // packets
    Buffer.from([3, 0, 0, 0, 1, 0, 0, 0, 1, 0]), // body type 3: an error if it were read
    Buffer.from([0, 0xff, 0xff, 0xff, 0xff]) // a header announcing 4 GiB, cut off
  ])
  const bytes = Buffer.concat([good, Buffer.alloc(9), after])
  const expected = await refDecode([bytes])
  assert.equal(expected.end, null)
  assert.equal(expected.items.length, 7)
  for (let seed = 300; seed < 330; seed++) {
    const chunks = chunkings(bytes, prng(seed), [1, 5, 9, 40, 1000][seed % 5])
    const src = tracked(chunks)
    const ours = await run(src, codec.decode())
    sameDecode(ours, expected, `seed ${seed}`)
    assert.ok(src.reads <= chunks.length)
  }
  assert.deepEqual(codec.decodePackets(bytes), expected.items)
  // a transport that stays open after the goodbye: the stream ends all the same
  for (const size of [1, 9, 100000]) {
    const open = tracked(fixedChunks(Buffer.concat([good, Buffer.alloc(9)]), size), { hang: true })
    const ours = await run(open, codec.decode())
    sameDecode(ours, expected, `chunks of ${size}`)
  }
})

test('decode: a stream that ends on a frame boundary without a goodbye ends cleanly, as the reference does', async () => {
  const bytes = await refEncode(smallPackets)
  const expected = await refDecode(fixedChunks(bytes, 13))
  assert.equal(expected.end, null)
  assert.deepEqual(await oursDecode(fixedChunks(bytes, 13)), expected)
  assert.deepEqual(await oursDecode([]), { items: [], end: null })
})

test('decode: Uint8Array chunks and empty chunks are taken too', async () => {
  const bytes = codec.encodePackets(smallPackets)
  const chunks = []
  for (const c of chunkings(bytes, prng(5), 30)) chunks.push(new Uint8Array(c), new Uint8Array(0))
  const { items, end } = await oursDecode(chunks)
  assert.equal(end, null)
  assert.deepEqual(items, (await refDecode([Buffer.from(bytes)])).items)
})

// ---- the duplex form -----------------------------------------------------------

// An asynchronous byte pipe that re-cuts what goes through it at random, as
// a socket does.
function wire (seed) {
  const rand = prng(seed)
  return pull(
    pull.map((buf) => chunkings(buf, rand, 1 + Math.floor(rand() * 100))),
    pull.flatten(),
    pull.asyncMap((buf, cb) => setImmediate(() => cb(null, buf)))
  )
}

// A muxrpc-like end: packets to send, and what arrived.
function end (packets) {
  const got = { items: [], end: undefined }
  return {
    got,
    duplex: {
      source: pull.values(packets),
      sink: pull.drain((p) => { got.items.push(p) }, (err) => { got.end = err || null })
    }
  }
}

// Waits until every |got| has ended (or 20 s went by).
async function settle (...gots) {
  const until = Date.now() + 20000
  while (Date.now() < until && gots.some((g) => g.end === undefined)) await new Promise((resolve) => setImmediate(resolve))
}

test('codec(duplex): two ends, ours to ours and ours to the reference both ways, over an async re-cutting pipe', async () => {
  const aSends = [...bigPackets.slice(0, 12), 'GOODBYE']
  const bSends = [...smallPackets.slice(4), 'GOODBYE']
  const pairs = [['ours', codec, 'ours', codec], ['ours', codec, 'reference', ref], ['reference', ref, 'ours', codec]]
  for (const [aName, aCodec, bName, bCodec] of pairs) {
    const a = end(aSends)
    const b = end(bSends)
    const aWire = aCodec(a.duplex)
    const bWire = bCodec(b.duplex)
    pull(aWire.source, wire(1), bWire.sink)
    pull(bWire.source, wire(2), aWire.sink)
    await settle(a.got, b.got)
    const what = `${aName} -> ${bName}`
    assert.equal(a.got.end, null, what)
    assert.equal(b.got.end, null, what)
    samePackets(b.got.items.map(strip), aSends.map(decoded), what)
    samePackets(a.got.items.map(strip), bSends.map(decoded), `${bName} -> ${aName}`)
  }
})

test('codec(duplex, flag): the reference\'s debug argument is accepted and ignored; limits apply to both directions', async () => {
  const a = end([{ req: 1, stream: false, end: false, value: 'x' }, 'GOODBYE'])
  const wireA = codec(a.duplex, true)
  const out = await run(wireA.source)
  sameBytes(Buffer.concat(out.items), await refEncode([{ req: 1, stream: false, end: false, value: 'x' }, 'GOODBYE']), 'debug flag')
  const b = end([{ req: 1, stream: false, end: false, value: 'y'.repeat(101) }])
  const wireB = codec(b.duplex, { maxFrame: 100 })
  const res = await run(wireB.source)
  assertCoreError(res.end, E.ERR_FRAME_TOO_LARGE)
  pull(pull.values([await refEncode([{ req: 2, stream: false, end: false, value: 'z'.repeat(101) }])]), wireB.sink)
  await settle(b.got)
  assertCoreError(b.got.end, E.ERR_PEER_FRAME_TOO_LARGE)
})

// ---- errors -------------------------------------------------------------------

const goodOnes = smallPackets.slice(0, 5).map(decoded)

test('error: body type 3 ends the decoded stream with ERR_BAD_TYPE after the good packets, and aborts the source', async () => {
  const good = await refEncode(goodOnes)
  const bad = Buffer.from([8 | 3, 0, 0, 0, 2, 0, 0, 0, 1, 0x7b, 0x7d])
  const bytes = Buffer.concat([good, bad, await refEncode(goodOnes)])
  for (let seed = 400; seed < 420; seed++) {
    const src = tracked(chunkings(bytes, prng(seed), [1, 9, 11, 100][seed % 4]))
    const { items, end } = await run(src, codec.decode())
    assert.deepEqual(items, goodOnes, `seed ${seed}`)
    assertCoreError(end, E.ERR_BAD_TYPE)
    assert.equal(src.aborted, end, 'the source is aborted with the error')
  }
  assert.throws(() => codec.decodePackets(bytes), (err) => err.code === E.ERR_BAD_TYPE)
})

test('error: a header over maxFrame ends the stream with ERR_PEER_FRAME_TOO_LARGE at once, without waiting for its body', async () => {
  const limits = { maxFrame: 1024 }
  const atLimit = { req: 1, stream: true, end: false, value: binary(1024) }
  const good = await refEncode([...goodOnes, atLimit])
  const header = Buffer.from([8, 0, 0, 4, 1, 0, 0, 0, 1]) // 1025 bytes announced
  for (const [name, chunks] of [['one chunk', [Buffer.concat([good, header])]], ['bytewise', fixedChunks(Buffer.concat([good, header]), 1)]]) {
    const src = tracked(chunks, { hang: true }) // the body never comes
    const { items, end } = await run(src, codec.decode(limits))
    assert.deepEqual(items, [...goodOnes, atLimit], name)
    assertCoreError(end, E.ERR_PEER_FRAME_TOO_LARGE)
    assert.equal(src.aborted, end, 'the hanging source is aborted')
  }
  assert.throws(() => codec.decodePackets(Buffer.concat([good, header]), limits), (err) => err.code === E.ERR_PEER_FRAME_TOO_LARGE)
  // with the default limit, the same bytes are only a truncated stream
  assertCoreError((await oursDecode([Buffer.concat([good, header])])).end, E.ERR_TRUNCATED)
})

test('error: a source that ends mid-frame ends the stream with ERR_TRUNCATED after the good packets', async () => {
  const good = await refEncode(goodOnes)
  const next = await refEncode([{ req: 9, stream: false, end: false, value: 'cut off' }])
  // a body over 256 KiB cut off is being gathered outside the core then
  const large = await refEncode([{ req: 9, stream: false, end: false, value: 'l'.repeat(400000) }])
  const cuts = [[next, 1], [next, 5], [next, 8], [next, 9], [next, 10], [next, next.length - 1], [large, 300000], [large, large.length - 1]]
  for (const [frame, cut] of cuts) {
    const bytes = Buffer.concat([good, frame.subarray(0, cut)])
    for (const max of frame === large ? [65536, 1 << 20] : [1, 7, 1000]) {
      const { items, end } = await oursDecode(chunkings(bytes, prng(cut * 1000 + max), max))
      assert.deepEqual(items, goodOnes, `cut at ${cut}, chunks of 1..${max}`)
      assertCoreError(end, E.ERR_TRUNCATED)
    }
    assert.throws(() => codec.decodePackets(bytes), (err) => err.code === E.ERR_TRUNCATED && err.message === C.messages[E.ERR_TRUNCATED])
  }
  // a source that fails passes its own error on, after the good packets
  const boom = new Error('transport broke')
  const failing = pull(pull.values([good, next.subarray(0, 3)]), pull.asyncMap((x, cb) => cb(x.length === 3 ? boom : null, x)))
  const r = await run(failing, codec.decode())
  assert.deepEqual(r.items, goodOnes)
  assert.equal(r.end, boom)
})

test('error: garbage in a JSON body ends the stream with ERR_BAD_BODY (its cause the SyntaxError) after the good packets', async () => {
  const good = await refEncode(goodOnes)
  for (const body of [Buffer.from('{"a":'), Buffer.from('["' + 'x'.repeat(300000) + '"')]) {
    const header = Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 1]) // type JSON, request 1
    header.writeUInt32BE(body.length, 1)
    const after = await refEncode(goodOnes)
    const bytes = Buffer.concat([good, header, body, after])
    for (let seed = 500; seed < 510; seed++) {
      const src = tracked(chunkings(bytes, prng(seed), body.length > 1000 ? [65536, 100000, 4096][seed % 3] : [1, 30, 4096][seed % 3]))
      const { items, end } = await run(src, codec.decode())
      assert.deepEqual(items, goodOnes, `seed ${seed}`)
      assertCoreError(end, E.ERR_BAD_BODY)
      assert.ok(end.cause instanceof SyntaxError)
      assert.equal(src.aborted, end)
    }
    assert.throws(() => codec.decodePackets(bytes), (err) => err.code === E.ERR_BAD_BODY)
  }
})

test('error: encoding a value over maxFrame ends the encoded stream with ERR_FRAME_TOO_LARGE and aborts the packet source', async () => {
  const limits = { maxFrame: 1024 }
  const ok = [...goodOnes, { req: 1, stream: true, end: false, value: binary(1024) }]
  const expected = await refEncode(ok)
  const tooBig = [
    { req: 1, stream: true, end: false, value: binary(1025) },
    { req: 1, stream: false, end: false, value: '€'.repeat(342) }, // 1026 bytes, 342 chars
    { req: 1, stream: false, end: false, value: ['x'.repeat(1021)] } // 1025 bytes of JSON
  ]
  for (const bad of tooBig) {
    for (const async of [false, true]) {
      const src = tracked([...ok, bad, goodOnes[0]], { async })
      const { items, end } = await run(src, codec.encode(limits))
      sameBytes(Buffer.concat(items), expected, 'the bytes before the bad packet')
      assertCoreError(end, E.ERR_FRAME_TOO_LARGE)
      assert.equal(src.aborted, end, 'the packet source is aborted with the error')
      assert.equal(src.reads, ok.length + 1, 'nothing is read after the bad packet')
    }
    assert.throws(() => codec.encodePackets([...ok, bad], limits), (err) => err.code === E.ERR_FRAME_TOO_LARGE)
  }
})

test('error: decodePackets throws on truncated input, a bad type and a bad body; encodePackets on a body over the limit', () => {
  const bytes = codec.encodePackets(goodOnes)
  assert.deepEqual(codec.decodePackets(bytes), goodOnes)
  for (const cut of [1, 9, bytes.length - 1]) {
    assert.throws(() => codec.decodePackets(bytes.subarray(0, cut)), (err) => err.code === E.ERR_TRUNCATED)
  }
  assert.throws(() => codec.decodePackets(Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 1])), (err) => err.code === E.ERR_BAD_TYPE)
  assert.throws(() => codec.decodePackets(Buffer.from([2, 0, 0, 0, 1, 0, 0, 0, 1, 0x7b])), (err) => err.code === E.ERR_BAD_BODY)
  assert.throws(() => codec.encodePackets([{ req: 1, value: 'ab' }], { maxFrame: 1 }), (err) => err.code === E.ERR_FRAME_TOO_LARGE)
  assert.equal(codec.encodePackets([]).length, 0)
  assert.deepEqual(codec.decodePackets(new Uint8Array(0)), [])
})

test('encodePair, decodeHead, decodeBody: packet-stream-codec\'s functions, the same bytes and packets', () => {
  const packets = [...smallPackets, ...bigPackets, 'GOODBYE']
  for (const msg of packets) {
    const [refHead, refBody] = ref.encodePair(msg)
    const [head, body] = codec.encodePair(msg)
    assert.ok(Buffer.isBuffer(head) && head.length === 9)
    assert.deepEqual(head, refHead)
    if (msg === 'GOODBYE') {
      assert.equal(body, null)
      assert.deepEqual(codec.decodeHead(head), ref.decodeHead(refHead))
      continue
    }
    assert.deepEqual(body, refBody)
    // a body of 8 KiB or more is the caller's own buffer, as the reference gives it
    if (Buffer.isBuffer(msg.value) && msg.value.length >= 8192) assert.equal(body, msg.value)
    const h = codec.decodeHead(refHead)
    assert.deepEqual(h, ref.decodeHead(refHead))
    assert.deepEqual(codec.decodeBody(refBody, h), ref.decodeBody(refBody, ref.decodeHead(refHead)))
  }
  // a header and a body given as Uint8Arrays inside larger buffers
  const [head, body] = ref.encodePair({ req: -3, stream: true, end: true, value: { ok: 'é' } })
  const bytes = new Uint8Array(4 + head.length + body.length)
  bytes.set(head, 4)
  bytes.set(body, 4 + head.length)
  const h = codec.decodeHead(bytes.subarray(4, 13))
  assert.deepEqual(h, { req: -3, stream: true, end: true, value: null, length: body.length, type: 2 })
  assert.deepEqual(codec.decodeBody(bytes.subarray(13), h).value, { ok: 'é' })
  // their errors, as the reference words them
  assert.throws(() => codec.decodeHead(Buffer.alloc(8)), /^Error: expected header to be 9 bytes long$/)
  assert.throws(() => codec.decodeBody(Buffer.from('ab'), { ...h, length: 3 }), /^Error: incorrect length, expected:3 found:2$/)
  assert.throws(() => codec.decodeBody(Buffer.from('ab'), { ...h, length: 2, type: 3 }), /^Error: unknown message type$/)
  assert.throws(() => codec.decodeBody(Buffer.from('{a'), { ...h, length: 2, type: 2 }), SyntaxError)
  // a value that cannot be framed throws, and the next pair is whole
  assert.throws(() => codec.encodePair({ req: 1, value: 10n }), (err) => err.code === E.ERR_INVALID_ARGUMENT)
  assert.deepEqual(codec.encodePair({ req: 1, value: 'x' }), ref.encodePair({ req: 1, value: 'x' }))
})

test('encode: a req that does not fit the header\'s 32 bits is refused (the reference throws a RangeError too), not wrapped into a response', async () => {
  for (const req of [2 ** 31, -(2 ** 31) - 1, Infinity]) {
    assert.throws(() => ref.encodePair({ req, value: 1 }), RangeError)
    assert.throws(() => codec.encodePackets([{ req, value: 1 }]), (err) => err instanceof RangeError && err.code === E.ERR_INVALID_ARGUMENT)
    const src = tracked([{ req: 1, value: 'ok' }, { req, value: 1 }])
    const { items, end } = await run(src, codec.encode())
    assert.equal(end.code, E.ERR_INVALID_ARGUMENT)
    assert.deepEqual(codec.decodePackets(Buffer.concat(items)), [{ req: 1, stream: false, end: false, value: 'ok' }])
    assert.equal(src.aborted, end)
  }
  // what the reference takes (and coerces) is taken
  for (const req of [2 ** 31 - 1, -(2 ** 31), 1.5, '7', undefined, NaN]) {
    assert.deepEqual(codec.encodePackets([{ req, value: 1 }]), Buffer.concat(ref.encodePair({ req, value: 1 })), String(req))
  }
})

test('decode: a chunk that is not bytes (a string from a stream with an encoding) ends the stream with an error and aborts the source; Framer.decode and decodePackets throw', async () => {
  const frame = Buffer.concat(ref.encodePair({ req: 1, value: 'abc' }))
  for (const bad of [frame.toString('latin1'), '1111111111', [1, 2, 3], null]) {
    const src = tracked([frame, bad, frame])
    const { items, end } = await run(src, codec.decode())
    assert.deepEqual(items, [{ req: 1, stream: false, end: false, value: 'abc' }])
    assert.ok(end instanceof TypeError)
    assert.equal(end.code, E.ERR_INVALID_ARGUMENT)
    assert.match(end.message, /must be a Uint8Array or Buffer/)
    assert.equal(src.aborted, end)
    assert.throws(() => codec.decodePackets(bad), TypeError)
    const framer = new codec.Framer()
    assert.throws(() => framer.decode(bad, () => {}), TypeError)
    framer.free()
  }
})

// ---- aborts -------------------------------------------------------------------

test('abort: aborting the decoded stream passes the abort to the byte source; later reads end at once', async () => {
  const bytes = await refEncode(smallPackets)
  for (const async of [false, true]) {
    const src = tracked(fixedChunks(bytes, 7), { async })
    const { items, end } = await run(src, codec.decode(), pull.take(3))
    assert.deepEqual(items, smallPackets.slice(0, 3).map(decoded))
    assert.equal(end, null)
    assert.equal(src.aborted, true, `async ${async}`)
  }
  // by hand: an abort while a read is out, then more reads
  const src = tracked(fixedChunks(bytes, 7), { async: true })
  const read = codec.decode()(src)
  const calls = []
  const first = await new Promise((resolve) => read(null, (end, p) => resolve([end, p])))
  assert.deepEqual(first, [null, decoded(smallPackets[0])])
  read(null, (end, p) => calls.push(['second', end, p])) // out: a chunk of 7 bytes is on its way
  const abort = new Error('enough')
  read(abort, (end) => calls.push(['abort', end]))
  await new Promise((resolve) => setTimeout(resolve, 20))
  read(null, (end) => calls.push(['after', end]))
  assert.equal(src.aborted, abort)
  assert.deepEqual(calls.map((c) => c[0]).sort(), ['abort', 'after', 'second'])
  for (const c of calls) assert.equal(c[1], abort, `${c[0]} ends with the abort`)
})

test('abort: aborting the encoded stream passes the abort to the packet source, also with a read of it out', async () => {
  for (const async of [false, true]) {
    const src = tracked(smallPackets, { async })
    const { items, end } = await run(src, codec.encode(), pull.take(1))
    assert.equal(end, null)
    assert.equal(items.length, 1)
    assert.equal(src.aborted, true, `async ${async}`)
  }
  const src = tracked(smallPackets, { async: true })
  const read = codec.encode()(src)
  const calls = []
  read(null, (end, b) => calls.push(['first', end, b && b.length]))
  read(true, (end) => calls.push(['abort', end])) // while the first read is out
  await new Promise((resolve) => setTimeout(resolve, 20))
  read(null, (end) => calls.push(['after', end]))
  assert.equal(src.aborted, true)
  assert.deepEqual(calls.map((c) => c[0]).sort(), ['abort', 'after', 'first'])
  for (const c of calls) assert.equal(c[1], true, `${c[0]} ends with the abort`)
})

test('abort with a read out, of a source that does not answer that read when aborted: the read hears the abort first, then the abort', async () => {
  // a "tail -f" source: its read waits for data that never comes
  const waitingSource = () => {
    const src = (abort, cb) => {
      if (abort) {
        src.aborts++
        return setImmediate(() => cb(abort))
      }
      src.reads++ // and never answered
    }
    src.aborts = 0
    src.reads = 0
    return src
  }
  for (const [name, through] of [['encode', codec.encode()], ['decode', codec.decode()]]) {
    const src = waitingSource()
    const read = through(src)
    const order = []
    read(null, (end) => order.push(['read', end && end.message]))
    await new Promise((resolve) => setImmediate(resolve))
    read(new Error('stop'), (end) => order.push(['abort', end && end.message]))
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(order, [['read', 'stop'], ['abort', 'stop']], name)
    assert.equal(src.aborts, 1, name)
  }
})

test('decode: after a protocol error a downstream abort does not abort the source a second time', async () => {
  let aborts = 0
  const chunks = [Buffer.from([3, 0, 0, 0, 1, 0, 0, 0, 1, 0x41])]
  const src = (abort, cb) => {
    if (abort) {
      aborts++
      return cb(abort)
    }
    if (chunks.length) return cb(null, chunks.shift())
    cb(true)
  }
  const read = codec.decode()(src)
  const end = await new Promise((resolve) => read(null, (end) => resolve(end)))
  assertCoreError(end, E.ERR_BAD_TYPE)
  assert.equal(aborts, 1) // the decoder's own, after the error
  const abortEnd = await new Promise((resolve) => read(true, (end) => resolve(end)))
  assert.equal(abortEnd, true)
  assert.equal(aborts, 1)
})

test('encode: a packet read ahead that does not fit beside what waits framed (a small maxOutbuf) waits for the next take instead of failing', async () => {
  const limits = { maxOutbuf: 64 * 1024 }
  for (const big of ['s'.repeat(40 * 1024), binary(40 * 1024, 9)]) {
    const packets = Array.from({ length: 31 }, (_, i) => ({ req: i + 1, stream: false, end: false, value: 'k'.repeat(1000) }))
    packets.push({ req: 99, stream: true, end: false, value: big })
    const { items, end } = await run(pull.values(packets), codec.encode(limits))
    assert.equal(end, null)
    sameBytes(Buffer.concat(items), await refEncode(packets), typeof big)
  }
  // a packet that cannot fit even alone still fails
  const { end } = await run(pull.values([{ req: 1, stream: false, end: false, value: 'x'.repeat(70 * 1024) }]), codec.encode(limits))
  assertCoreError(end, E.ERR_OUTBUF_LIMIT)
})

// ---- the encoder's reading ahead ------------------------------------------------

test('encode: the bytes of packets read at once are handed over while the next read is out', async () => {
  const packets = smallPackets.slice(0, 3)
  const src = tracked(packets, { hang: true })
  const got = []
  pull(src, codec.encode(), pull.drain((b) => { got.push(b) }))
  await new Promise((resolve) => setTimeout(resolve, 20))
  sameBytes(Buffer.concat(got), await refEncode(packets), 'delivered before the source answers again')
  src(true, () => {})
})

test('encode: the read-ahead is bounded (a reader that does not read holds the source back) and an endless source works', async () => {
  let reads = 0
  const value = binary(1024)
  const source = (abort, cb) => {
    if (abort) return cb(abort)
    reads++
    setImmediate(() => cb(null, { req: 1, stream: true, end: false, value }))
  }
  const read = codec.encode({ maxOutbuf: 1 << 20 })(source)
  let first = null
  read(null, (end, b) => { first = { end, b } })
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.ok(first && first.end === null && first.b.length === 1033)
  // half of maxOutbuf is 507 frames of 1033 bytes
  assert.ok(reads > 400 && reads < 600, `${reads} reads of 1 KiB while nobody read: about half of maxOutbuf`)
  for (let i = 0; i < 3; i++) {
    const next = await new Promise((resolve) => read(null, (end, b) => resolve({ end, b })))
    assert.equal(next.end, null, 'the stream is still healthy')
    if (i === 0) assert.ok(next.b.length > 400 * 1033, `what was read ahead comes as one chunk: ${next.b.length} bytes`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  read(true, () => {})
  // a source that never ends, read as far as it is needed, with the defaults
  const infinite = pull.infinite(() => ({ req: 2, stream: false, end: false, value: 'x'.repeat(100) }))
  const { items, end } = await run(infinite, codec.encode(), pull.take(70))
  assert.equal(end, null)
  assert.equal(items.length, 70)
  for (const b of items) assert.ok(b.length >= 1 << 20, 'chunks of about 1 MiB')
})

test('encode: a source that pushes (packet-stream under muxrpc) hands each packet straight on, and what it pushes in one go leaves as one chunk', async () => {
  // like muxrpc's pull-weird: packets pushed into a queue, taken from it by reads
  function pusher () {
    const queue = []
    let waiting = null
    const source = (abort, cb) => {
      if (abort) return cb(abort)
      if (queue.length) return cb(null, queue.shift())
      waiting = cb
    }
    source.most = 0
    source.push = (p) => {
      if (waiting) { const cb = waiting; waiting = null; cb(null, p) } else queue.push(p)
      source.most = Math.max(source.most, queue.length)
    }
    return source
  }
  for (const n of [64, 200000]) { // 200,000: about 3 MB framed, over a chunk, under the read-ahead
    const source = pusher()
    const chunks = []
    const read = codec.encode()(source)
    read(null, (end, b) => chunks.push(b)) // one read, then the reader stalls
    const packets = Array.from({ length: n }, (_, i) => ({ req: -5, stream: true, end: false, value: i }))
    for (const p of packets) source.push(p)
    assert.ok(source.most <= 1, `${source.most} packets queued upstream`)
    assert.equal(chunks.length, 0, 'handed over once the pushing code is done')
    await null
    assert.equal(chunks.length, 1)
    sameBytes(chunks[0], await refEncode(packets), `${n} packets pushed in one go`)
    read(true, () => {})
  }
})

test('burst: 300,000 packets from pull.values come out as few large chunks and decode back in 64 KiB chunks', async () => {
  const n = 300000
  const packets = Array.from({ length: n }, (_, i) => ({ req: 3, stream: true, end: false, value: i }))
  const { items: chunks, end } = await run(pull.values(packets), codec.encode())
  assert.equal(end, null)
  assert.ok(chunks.length <= 16, `${chunks.length} chunks`)
  for (const c of chunks.slice(0, -1)) assert.ok(c.length >= 256 * 1024, `a chunk of ${c.length} bytes`)
  const bytes = Buffer.concat(chunks)
  sameBytes(bytes, await refEncode(packets), 'the burst')
  const back = await oursDecode(fixedChunks(bytes, 64 * 1024))
  assert.equal(back.end, null)
  assert.equal(back.items.length, n)
  for (let i = 0; i < n; i++) {
    if (back.items[i].value !== i || back.items[i].req !== 3) assert.fail(`packet ${i}: ${JSON.stringify(back.items[i])}`)
  }
})

// ---- the framer ----------------------------------------------------------------

test('Framer: memory is 0 after free() once it has encoded and decoded; a freed framer refuses to encode', () => {
  const framer = new codec.Framer()
  assert.equal(framer.pending, 0)
  for (const p of bigPackets) framer.encode(p)
  framer.encode('GOODBYE')
  assert.ok(framer.pending > 450000, `${framer.pending} bytes framed`)
  const bytes = framer.take()
  assert.equal(framer.pending, 0)
  assert.equal(framer.take(), null)
  const got = []
  assert.equal(framer.decode(bytes, (p) => got.push(p)), null)
  samePackets(got, [...bigPackets, 'GOODBYE'].map(decoded), 'by hand')
  assert.ok(framer.memory > 0)
  framer.free()
  assert.equal(framer.memory, 0)
  framer.free() // again: nothing
  assert.equal(framer.memory, 0)
  assert.throws(() => framer.encode(goodOnes[0]), (err) => err.code === E.ERR_CLOSED)
})

test('Framer: an 8 MiB body arriving in 64 KiB chunks is gathered outside the core, which holds at most a chunk of it', () => {
  const framer = new codec.Framer()
  const bytes = codec.encodePackets(hugePackets)
  let most = 0
  const got = []
  for (const chunk of fixedChunks(bytes, 64 * 1024)) {
    assert.equal(framer.decode(chunk, (p) => got.push(p)), null)
    most = Math.max(most, framer.memory)
  }
  assert.equal(got.length, 3)
  assert.ok(got[1].value.equals(mib8))
  assert.ok(most <= 2 * 64 * 1024 + 4096, `the core held at most ${most} bytes for a body of ${mib8.length}`)
  framer.decode(codec.encodePackets([goodOnes[0]]), (p) => got.push(p))
  assert.ok(framer.memory < 256 * 1024, `${framer.memory} bytes once the next frame arrived`)
  framer.free()
  assert.equal(framer.memory, 0)
})

test('Framer: framers that live on (or are dropped unfreed) after a decode or a burst hold little of the core: input goes through one shared buffer, a burst\'s output buffer is given back when taken', () => {
  const { core } = require('../js/wasm')
  const chunk = codec.encodePackets(Array.from({ length: 60 }, (_, i) => ({ req: i + 1, stream: false, end: false, value: 'x'.repeat(1000) })))
  const burst = Buffer.alloc(100000, 5)
  const framers = []
  const before = core.memory.buffer.byteLength
  try {
    for (let i = 0; i < 3000; i++) {
      const f = new codec.Framer()
      let n = 0
      assert.equal(f.decode(chunk, () => { n++ }), null)
      assert.equal(n, 60)
      framers.push(f)
    }
    for (let i = 0; i < 300; i++) {
      const f = new codec.Framer()
      for (let k = 0; k < 3; k++) f.encode({ req: k + 1, stream: true, end: false, value: burst })
      assert.equal(f.take().length, 3 * (9 + burst.length))
      framers.push(f)
    }
    // 64 KiB of input kept by each would be 190 MiB, 300 KiB of output 90 MiB
    const grown = core.memory.buffer.byteLength - before
    assert.ok(grown < 32 << 20, `the core grew by ${grown} bytes`)
    for (const f of framers) assert.ok(f.memory < 4096, `a framer holds ${f.memory} bytes`)
  } finally {
    for (const f of framers) f.free()
  }
  // a decode from within another framer's onpacket has an input buffer of its own
  const outer = new codec.Framer()
  const inner = new codec.Framer()
  const got = []
  outer.decode(codec.encodePackets([{ req: 1, value: 'outer 1' }, { req: 2, value: 'outer 2' }]), (p) => {
    got.push(p.value)
    if (p.req === 1) inner.decode(codec.encodePackets([{ req: 3, value: 'inner' }]), (q) => got.push(q.value))
  })
  assert.deepEqual(got, ['outer 1', 'inner', 'outer 2'])
  outer.free()
  inner.free()
})

test('Framer: a chunk given from within onpacket is copied and decoded after the current one, into its own handler', () => {
  const framer = new codec.Framer()
  const first = codec.encodePackets([{ req: 1, stream: false, end: false, value: 'first' }, { req: 2, stream: false, end: false, value: 'then' }])
  const inner = Buffer.from(codec.encodePackets([{ req: 3, stream: false, end: false, value: 'inner' }]))
  const outer = []
  const nested = []
  framer.decode(first, (p) => {
    outer.push(p.value)
    if (p.req === 1) {
      assert.equal(framer.decode(inner, (q) => nested.push(q.value)), null)
      inner.fill(0x42) // the caller reuses its buffer at once
    }
  })
  assert.deepEqual(outer, ['first', 'then'])
  assert.deepEqual(nested, ['inner'])
  framer.free()
})

test('Framer: decode can push onto an array instead of calling a handler', () => {
  const framer = new codec.Framer()
  const out = ['already there']
  assert.equal(framer.decode(codec.encodePackets([...goodOnes, 'GOODBYE']), out), null)
  assert.deepEqual(out, ['already there', ...goodOnes, 'GOODBYE'])
  framer.free()
})

test('Framer and streams give their memory back: 30 of them holding MiBs each do not grow the wasm memory', async () => {
  const { core } = require('../js/wasm')
  const body = binary(4 * 1024 * 1024, 9)
  const packets = [goodOnes[0], { req: 1, stream: true, end: false, value: body }, goodOnes[1]]
  const bytes = codec.encodePackets(packets)
  const chunks = fixedChunks(bytes, 64 * 1024)
  async function round (i) {
    // by hand
    const framer = new codec.Framer()
    for (const p of packets) framer.encode(p)
    framer.take()
    for (const c of chunks) framer.decode(c, () => {})
    framer.free()
    const whole = new codec.Framer() // its input buffer grows to the chunk
    assert.equal(whole.decode(bytes, () => {}), null)
    whole.free()
    assert.equal((await run(pull.values([bytes]), codec.decode())).items.length, 3)
    // streams: a clean end, an error, an abort
    const clean = await run(pull.values(chunks), codec.decode())
    assert.equal(clean.items.length, 3)
    const cut = await run(pull.values(chunks.slice(0, -1)), codec.decode())
    assertCoreError(cut.end, E.ERR_TRUNCATED)
    await run(pull.values(chunks), codec.decode(), pull.take(2))
    const encoded = await run(pull.values(packets), codec.encode())
    assert.equal(encoded.end, null)
    await run(pull.values(packets.slice(1)), codec.encode(), pull.take(1))
    const over = await run(pull.values(packets), codec.encode({ maxFrame: 1 << 20 }))
    assertCoreError(over.end, E.ERR_FRAME_TOO_LARGE)
  }
  await round(0) // the memory grows to what one round needs
  const before = core.memory.buffer.byteLength
  for (let i = 1; i <= 30; i++) await round(i)
  const grown = core.memory.buffer.byteLength - before
  assert.ok(grown < 32 * 1024 * 1024, `the wasm memory grew by ${grown} bytes`)
})

test('Framer: take() gives a Buffer that owns its ArrayBuffer whole (a transport may transfer it)', async () => {
  const framer = new codec.Framer()
  for (const packets of [[goodOnes[0]], smallPackets, [hugePackets[1]]]) {
    for (const p of packets) framer.encode(p)
    const bytes = framer.take()
    assert.ok(Buffer.isBuffer(bytes))
    assert.equal(bytes.byteOffset, 0)
    assert.equal(bytes.buffer.byteLength, bytes.length)
    sameBytes(bytes, await refEncode(packets), 'taken')
  }
  framer.free()
})

test('encode: large binary bodies leave as the caller\'s own buffers, between chunks of framed bytes, in the reference\'s bytes', async () => {
  const big = binary(64 * 1024, 5)
  const edge = binary(8192, 6) // the smallest that goes beside
  const under = binary(8191, 7)
  const packets = [
    { req: 1, stream: false, end: false, value: 'first' },
    { req: 2, stream: true, end: false, value: big },
    { req: 2, stream: true, end: false, value: big },
    { req: -3, stream: false, end: false, value: edge },
    { req: 4, stream: false, end: false, value: under },
    { req: 2, stream: true, end: true, value: true },
    'GOODBYE'
  ]
  const expected = await refEncode(packets)
  const { items, end } = await run(pull.values(packets), codec.encode())
  assert.equal(end, null)
  sameBytes(Buffer.concat(items), expected, 'encode() chunks')
  assert.equal(items.filter((b) => b === big).length, 2, 'the 64 KiB body is handed on as given, twice')
  assert.equal(items.filter((b) => b === edge).length, 1, 'the 8 KiB body is handed on as given')
  assert.equal(items.filter((b) => b === under).length, 0, 'a smaller body is framed with the rest')
  // the framer's two forms of the same output
  const framer = new codec.Framer(undefined, { passBodies: true })
  for (const p of packets) framer.encode(p)
  assert.equal(framer.pending, expected.length)
  const chunks = framer.takeChunks()
  assert.equal(framer.pending, 0)
  assert.equal(framer.takeChunks(), null)
  sameBytes(Buffer.concat(chunks), expected, 'takeChunks()')
  for (const p of packets) framer.encode(p)
  const one = framer.take()
  sameBytes(one, expected, 'take()')
  assert.equal(one.byteOffset, 0)
  assert.equal(one.buffer.byteLength, one.length)
  framer.free()
  // without passBodies, every body is copied when it is encoded
  const copying = new codec.Framer()
  copying.encode(packets[1])
  const taken = copying.takeChunks()
  assert.equal(taken.length, 1)
  sameBytes(taken[0], Buffer.concat([expected.subarray(14, 14 + 9), big]), 'copied')
  copying.free()
})

test('encode: bodies beside count against maxOutbuf until taken', () => {
  const big = binary(40000, 8)
  const framer = new codec.Framer({ maxOutbuf: 100000 }, { passBodies: true })
  framer.encode({ req: 1, stream: true, end: false, value: big })
  framer.encode({ req: 1, stream: true, end: false, value: big })
  assert.throws(() => framer.encode({ req: 1, stream: true, end: false, value: big }), (err) => err.code === E.ERR_OUTBUF_LIMIT)
  assert.throws(() => framer.encode({ req: 1, stream: true, end: false, value: 'x'.repeat(30000) }), (err) => err.code === E.ERR_OUTBUF_LIMIT)
  assert.equal(framer.pending, 2 * (9 + 40000))
  assert.equal(Buffer.concat(framer.takeChunks()).length, 2 * (9 + 40000))
  framer.encode({ req: 1, stream: true, end: false, value: big }) // room again
  assert.equal(framer.take().length, 9 + 40000)
  framer.free()
})

// A JSON frame of |text| (not checked) for request |req|.
function jsonFrame (text, req) {
  const body = Buffer.from(text)
  const header = Buffer.alloc(9)
  header[0] = 2
  header.writeUInt32BE(body.length, 1)
  header.writeInt32BE(req, 5)
  return Buffer.concat([header, body])
}

test('decode: JSON bodies of a chunk are parsed together, but each must be valid JSON alone, as the reference requires', async () => {
  // bodies that are not JSON alone, though some would be inside one array
  // with their neighbours: [1 + 2] makes [[1,2]], "a" , "b" makes two
  const bad = [['[1', '2]'], ['1,2'], ['"a" , "b"'], ['{"x":1', '}'], ['1 2'], [' '], ['[}'], ['"\\"', '"']]
  const good = Array.from({ length: 20 }, (_, i) => ({ req: i + 1, stream: false, end: false, value: i % 2 ? { i, s: 'x,]}"' } : [i, null, 'a\\"b'] }))
  const goodBytes = await refEncode(good)
  for (const texts of bad) {
    const bytes = Buffer.concat([goodBytes, ...texts.map((t, i) => jsonFrame(t, 100 + i)), goodBytes])
    const { items: refPackets, end: refEnd } = await run(pull.values([bytes]), ref.decode())
    assert.ok(refEnd instanceof SyntaxError, `the reference refuses ${texts.join(' + ')}`)
    const refItems = refPackets.map(({ req, stream, end, value }) => ({ req, stream, end, value }))
    assert.equal(refItems.length, good.length)
    for (const chunks of [[bytes], fixedChunks(bytes, 7)]) {
      const { items, end } = await run(pull.values(chunks), codec.decode())
      assert.deepEqual(items, refItems, `${texts.join(' + ')}: the good packets before it`)
      assertCoreError(end, E.ERR_BAD_BODY)
    }
  }
  // a body at the size where joining stops, and over it, among small ones
  const sizes = [1000, 1022, 1024, 1025, 5000]
  const mixed = sizes.flatMap((size, i) => [
    { req: i + 1, stream: false, end: false, value: 'x'.repeat(size - 2) }, // a JSON string of |size| bytes ...
    { req: -(i + 1), stream: false, end: false, value: { size } }
  ]).map((p) => ({ ...p, value: typeof p.value === 'string' ? { s: p.value } : p.value }))
  const mixedBytes = await refEncode(mixed)
  assert.deepEqual(codec.decodePackets(mixedBytes), (await run(pull.values([mixedBytes]), ref.decode())).items.map(({ req, stream, end, value }) => ({ req, stream, end, value })))
})

test('decode: a chunk of many MiB goes into the core in slices; the core\'s memory does not grow with it, and an idle framer keeps a small input buffer', () => {
  const { core } = require('../js/wasm')
  // a binary body over 1/64 of the chunk, whole in the first slice, then
  // 40 MiB of string bodies whose frames (1,009 bytes) straddle the slices
  const body = 'x'.repeat(1000)
  const frame = Buffer.from(codec.encodePackets([{ req: 1, stream: false, end: false, value: body }]))
  const count = 40 * 1024
  const big = binary(700000, 3)
  const bigFrame = Buffer.from(codec.encodePackets([{ req: 2, stream: true, end: false, value: big }]))
  assert.equal(frame.length, 1009)
  const chunk = Buffer.concat([bigFrame, ...Array(count).fill(frame)])
  const framer = new codec.Framer({ maxFrame: 1 << 20 })
  const before = core.memory.buffer.byteLength
  let n = 0
  let bigValue = null
  assert.equal(framer.decode(chunk, (p) => {
    if (p.req === 2) bigValue = p.value
    else if (p.value === body) n++
  }), null)
  assert.equal(n, count)
  assert.ok(bigValue.equals(big))
  assert.ok(bigValue.buffer === chunk.buffer, 'a body whole in its slice is still a view of the chunk')
  const grown = core.memory.buffer.byteLength - before
  assert.ok(grown <= 4 << 20, `the core's memory grew by ${grown} bytes for a ${chunk.length}-byte chunk`)
  assert.ok(framer.memory < 64 * 1024, `an idle framer holds ${framer.memory} bytes`)
  framer.free()
})

test('Framer: a large body gathered out of the core costs at most about twice its size, even a byte at a time, and a framer waiting for the rest holds no core memory', { timeout: 60000 }, () => {
  const { execFileSync } = require('node:child_process')
  const fixture = require('node:path').join(__dirname, 'fixtures', 'gather-memory.js')
  const got = JSON.parse(execFileSync(process.execPath, ['--expose-gc', fixture], { encoding: 'utf8' }))
  assert.equal(got.whole, true, 'the body arrived whole')
  assert.ok(got.bytewise <= 2 * got.size + (256 << 10), `JS memory grew by ${got.bytewise} bytes for a body of ${got.size} sent a byte at a time`)
  assert.equal(got.midframe, true)
  assert.ok(got.coreGrowth <= 8 << 20, `the core grew by ${got.coreGrowth} bytes for 50 framers each holding 1 MiB of a frame`)
})
