'use strict'
// The codec alone: packet-stream packets to bytes and back, through the
// pull-stream API of packet-stream-codec@1.2.0 (its encode() and decode()
// through-streams), in packets/s and MB/s of wire bytes (each packet is a
// 9-byte header and its body).
//
// A contestant is { name, codec } where codec has packet-stream-codec's
// exports: codec.encode() is a through-stream from packets
// ({ req, stream, end, value }) to Buffers, codec.decode() one from
// Buffers (any chunking) to packets. To add one, add an entry to |codecs|:
//   { name: 'packet-stream-wasm', codec: require('..').codec }
// Each is first checked against the reference on a sample of every case:
// the same bytes out, the same packets back. Then the encoders again, their
// output written to a TCP socket on loopback: through a pull.drain a chunk
// costs nothing, through a socket each one is a write.
const assert = require('node:assert/strict')
const pull = require('pull-stream')
const toPull = require('stream-to-pull-stream')
const { interleave, fmt, spread } = require('./lib')

const codecs = [
  { name: 'packet-stream-codec@1.2.0', codec: require('packet-stream-codec') },
  { name: 'packet-stream-wasm', codec: require('..').codec }
]
const reference = codecs[0].codec

const CHUNK = 64 * 1024 // the decoders are fed 64 KiB chunks of the byte stream

function binary (size) {
  const b = Buffer.alloc(size)
  for (let i = 0; i < size; i++) b[i] = (i * 131 + 7) & 255
  return b
}

// [title, make(i) -> packet, packets encoded, packets decoded, packets in
// the byte stream decoded (it is fed again and again up to the count:
// the byte stream of 64 KiB packets would not fit in memory otherwise)]
// in a full run; a quick one does a fifth.
const kib = binary(1024)
const sixtyFour = binary(64 * 1024)
const cases = [
  ['small JSON, requests: {x:1,y:"abc"}', (i) => ({ req: i + 1, stream: false, end: false, value: { x: 1, y: 'abc' } }), 400000, 400000, 400000],
  ['small strings, stream data: "hello, world"', (i) => ({ req: 3, stream: true, end: false, value: 'hello, world' }), 500000, 500000, 500000],
  ['1 KiB Buffers, stream data', (i) => ({ req: 3, stream: true, end: false, value: kib }), 200000, 200000, 50000],
  ['64 KiB Buffers, stream data', (i) => ({ req: 3, stream: true, end: false, value: sixtyFour }), 500000, 5000, 500]
]

function encodeAll (codec, packets) {
  return Buffer.concat(encodeBuffers(codec, packets))
}

function encodeBuffers (codec, packets) {
  let out = null
  pull(pull.values(packets), codec.encode(), pull.collect((err, bufs) => { if (err) throw err; out = bufs }))
  if (!out) throw new Error('the encoder did not finish synchronously')
  return out
}

function decodeAll (codec, chunks) {
  let out = null
  pull(pull.values(chunks), codec.decode(), pull.collect((err, msgs) => { if (err) throw err; out = msgs }))
  if (!out) throw new Error('the decoder did not finish synchronously')
  return out.map(({ req, stream, end, value }) => ({ req, stream, end, value }))
}

function chunked (bytes) {
  const chunks = []
  for (let i = 0; i < bytes.length; i += CHUNK) chunks.push(bytes.subarray(i, i + CHUNK))
  return chunks
}

// impl: { pull, codec, packets, chunks, bytes (wire bytes of packets) }
const encode = `function (impl, n) {
  const pull = impl.pull
  let bytes = 0
  return new Promise(function (resolve, reject) {
    pull(pull.values(impl.packets), impl.codec.encode(), pull.drain(function (buf) { bytes += buf.length }, function (err) {
      if (err) return reject(err)
      if (bytes !== impl.bytes) return reject(new Error('encoded ' + bytes + ' bytes, expected ' + impl.bytes))
      resolve(n)
    }))
  })
}`

const decode = `function (impl, n) {
  const pull = impl.pull
  let count = 0
  return new Promise(function (resolve, reject) {
    pull(pull.values(impl.chunks), impl.codec.decode(), pull.drain(function (msg) { count++ }, function (err) {
      if (err) return reject(err)
      if (count !== n) return reject(new Error('decoded ' + count + ' packets, expected ' + n))
      resolve(n)
    }))
  })
}`

// What decoding small JSON costs through these streams with JSON.parse at
// its cheapest, run interleaved with the codecs as a codec of its own: for
// each chunk, as many packets as its bytes hold, made with one JSON.parse
// per 64 bodies (their array text made in advance) and a packet object
// each; no framing at all. Any decoder that builds its values with
// JSON.parse sits above this; ours reads such bodies from the core's tape
// instead (c/ps_json.h), so it is a yardstick here, not a floor.
function jsonFloor (value, packetBytes) {
  const text = '[' + Array(64).fill(JSON.stringify(value)).join(',') + ']'
  return {
    decode () {
      return function (read) {
        const queue = []
        let head = 0
        let carry = 0 // bytes of a packet cut by the chunk's end
        return function next (abort, cb) {
          if (head < queue.length) {
            const p = queue[head++]
            if (head === queue.length) { queue.length = 0; head = 0 }
            return cb(null, p)
          }
          read(abort, function (end, chunk) {
            if (end) return cb(end)
            carry += chunk.length
            let count = Math.floor(carry / packetBytes)
            carry -= count * packetBytes
            for (let req = 1; count > 0; count -= 64) {
              const values = JSON.parse(text)
              for (let i = 0; i < values.length && i < count; i++) queue.push({ req: req++, stream: false, end: false, value: values[i] })
            }
            next(null, cb)
          })
        }
      }
    }
  }
}

// The encoder's output written to a TCP socket on loopback (stream-to-pull-
// stream, as muxrpc's users connect it), timed until the other end has read
// every byte: what the chunking of the output costs once it meets a socket.
// impl: { pull, codec, packets, bytes, toPull, connect () -> Promise<socket>,
// received (socket) -> Promise<bytes the server read> }
const encodeToSocket = `async function (impl, n) {
  const pull = impl.pull
  const socket = await impl.connect()
  const received = impl.received(socket)
  await new Promise(function (resolve, reject) {
    pull(pull.values(impl.packets), impl.codec.encode(), impl.toPull.sink(socket, function (err) { if (err) reject(err); else resolve() }))
  })
  const bytes = await received
  if (bytes !== impl.bytes) throw new Error('the server read ' + bytes + ' bytes, expected ' + impl.bytes)
  return n
}`

// A server on loopback that reads everything each connection sends; the
// client's socket learns how much was read when the connection closes.
async function sink () {
  const net = require('node:net')
  const counts = new Map() // the client's port -> bytes read
  const server = net.createServer((s) => {
    let got = 0
    s.on('data', (d) => { got += d.length })
    s.on('end', () => { counts.set(s.remotePort, got); s.end() })
    s.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    connect: () => new Promise((resolve, reject) => {
      const c = net.connect(server.address().port, '127.0.0.1', () => resolve(c))
      c.on('error', reject)
    }),
    received: (socket) => new Promise((resolve) => {
      const port = socket.localPort
      socket.on('close', () => {
        resolve(counts.get(port))
        counts.delete(port)
      })
    }),
    close: () => server.close()
  }
}

const socketCases = [
  ['small JSON, requests: {x:1,y:"abc"}', cases[0][1], 200000],
  ['1 KiB Buffers, stream data', cases[2][1], 100000],
  ['64 KiB Buffers, stream data', cases[3][1], 3000]
]

function reportRates (title, result, perPacket) {
  const names = Object.keys(result)
  const base = result[names[0]].median
  console.log(`\n${title}`)
  for (const name of names) {
    const rate = result[name].median
    const ratio = name === names[0] ? '' : `  ${(rate / base).toFixed(2)}x ${names[0]}`
    console.log(`  ${name.padEnd(28)} ${fmt(rate).padStart(9)} packets/s ${(rate * perPacket / 1e6).toFixed(1).padStart(8)} MB/s${(spread(result[name]).padEnd(6) + ratio).trimEnd()}`)
  }
}

async function main ({ quick = false } = {}) {
  const rounds = quick ? 3 : 7
  for (const [title, make, encodeN, decodeN, streamN] of cases) {
    const scale = (x) => Math.max(1, Math.round(x * (quick ? 0.2 : 1)))
    const nEncode = scale(encodeN)
    const reps = Math.max(1, Math.round(decodeN / streamN))
    const inStream = scale(streamN)
    const nDecode = inStream * reps
    const packets = Array.from({ length: nEncode }, (_, i) => make(i))
    const bytes = encodeBuffers(reference, packets).reduce((sum, b) => sum + b.length, 0)
    const perPacket = bytes / nEncode
    const once = chunked(encodeAll(reference, packets.slice(0, inStream)))
    const chunks = [].concat(...Array(reps).fill(once))
    // every contestant against the reference, on a sample
    const sample = packets.slice(0, 50)
    const sampleBytes = encodeAll(reference, sample)
    const sampleBack = decodeAll(reference, [sampleBytes])
    for (const c of codecs.slice(1)) {
      assert.deepEqual(encodeAll(c.codec, sample), sampleBytes, `${c.name}: encoded bytes differ (${title})`)
      assert.deepEqual(decodeAll(c.codec, chunked(sampleBytes)), sampleBack, `${c.name}: decoded packets differ (${title})`)
    }
    const contestants = codecs.map((c) => ({ name: c.name, impl: { pull, codec: c.codec, packets, chunks, bytes } }))
    reportRates(`codec encode: ${title}, ${perPacket} bytes a packet`, await interleave({ contestants, body: encode, n: nEncode, rounds }), perPacket)
    const floor = title.startsWith('small JSON') ? [{ name: 'JSON.parse alone, no framing', impl: { pull, codec: jsonFloor(make(0).value, perPacket), chunks, bytes } }] : []
    reportRates(`codec decode: ${title}, from 64 KiB chunks`, await interleave({ contestants: contestants.concat(floor), body: decode, n: nDecode, rounds }), perPacket)
  }
  const server = await sink()
  try {
    for (const [title, make, count] of socketCases) {
      const n = Math.max(1, Math.round(count * (quick ? 0.2 : 1)))
      const packets = Array.from({ length: n }, (_, i) => make(i))
      const bytes = encodeBuffers(reference, packets).reduce((sum, b) => sum + b.length, 0)
      const contestants = codecs.map((c) => ({ name: c.name, impl: { pull, codec: c.codec, packets, bytes, toPull, ...server } }))
      reportRates(`codec encode into a TCP socket on loopback: ${title}, ${bytes / n} bytes a packet`, await interleave({ contestants, body: encodeToSocket, n, rounds }), bytes / n)
    }
  } finally {
    server.close()
  }
}

module.exports = main
if (require.main === module) main({ quick: process.argv.includes('--quick') }).catch((err) => { console.error(err); process.exit(1) })
