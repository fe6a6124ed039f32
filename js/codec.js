'use strict'
// A drop-in for packet-stream-codec@1.2.0 over the C core's framer:
//
//   codec(duplex) -> duplex   (packets <-> bytes, as muxrpc's 5th argument)
//   codec.encode()            through-stream: packets -> byte chunks
//   codec.decode()            through-stream: byte chunks -> packets
//
// plus packet-stream-codec's functions for framing by hand, one packet at
// a time (codec.encodePair, codec.decodeHead, codec.decodeBody), and ours:
// codec.encodePackets(packets) -> bytes, codec.decodePackets(bytes) ->
// packets and the incremental codec.Framer.
//
// Differences that matter: the encoder reads its source ahead and hands
// downstream everything framed so far as one chunk (one buffer per read, not
// two per packet, up to 1 MiB; a large binary body is a chunk of its own, as
// given), and keeps a read out until half of maxOutbuf
// waits framed, so a burst never queues up packet by packet upstream; and
// only the all-zero header is goodbye (packet-stream-codec takes any empty
// body for one), so empty strings and buffers arrive intact.
const Framer = require('./framer')
const { C, coreError } = require('./wasm')

const { GOODBYE } = Framer
const HEADER_SIZE = C.HEADER_SIZE

// The encoder reads its source ahead. Answers that come at once are framed
// into one chunk of up to CHUNK bytes; beyond that it keeps one read out
// while less than half of maxOutbuf waits framed, so that a source that
// pushes (packet-stream's, under muxrpc) hands its packets straight to the
// framer instead of queueing them upstream, and a reader that does not keep
// up still holds the source back (and the framer never meets maxOutbuf).
const CHUNK = 1024 * 1024
const NONE = [] // nothing taken (never written to)

// Through-stream: packets (and 'GOODBYE') in, framed bytes out.
function encode (limits) {
  return function pscEncode (read) {
    const framer = new Framer(limits, { passBodies: true })
    const readAhead = Math.max(1, framer.maxOutbuf >>> 1)
    const chunk = Math.min(CHUNK, readAhead)
    let ended = null // the end of the source, or an encoding error
    let sourceAborted = false // by us after an error, or for downstream: once
    let held = null // a packet read ahead that did not fit: it waits for the next take
    let reading = false // a read of the source is out
    let waiting = null // downstream's callback
    let done = false
    let flushing = false // a hand-over is due once the current code is done
    let out = [] // chunks taken from the framer, handed out from |outAt| on
    let outAt = 0

    function finish (end) {
      done = true
      framer.free()
      const cb = waiting
      waiting = null
      cb(end)
    }

    // Hands downstream what there is: bytes, else the end.
    function deliver () {
      if (!waiting) return
      if (outAt === out.length) {
        out = framer.takeChunks() || NONE
        outAt = 0
        if (held !== null) { // there is room for it now
          const msg = held
          held = null
          frame(msg)
        }
      }
      if (outAt < out.length) {
        const bytes = out[outAt]
        out[outAt++] = null
        const cb = waiting
        waiting = null
        cb(null, bytes)
      } else if (ended) {
        finish(ended)
      }
    }

    function onread (end, msg) {
      reading = false
      if (end) ended = ended || end
      else if (!done) {
        frame(msg)
      }
    }

    // A packet read ahead may not fit beside what waits framed (maxOutbuf):
    // it is held, and reading stops, until that has been taken.
    function frame (msg) {
      try {
        framer.encode(msg)
      } catch (err) {
        if (err.code === C.errors.ERR_OUTBUF_LIMIT && framer.pending > 0) {
          held = msg
          return
        }
        ended = err
        sourceAborted = true
        read(err, () => {}) // abort the source: nothing more can be sent
      }
    }

    function readOnce () {
      let sync = true
      reading = true
      read(null, (end, msg) => {
        onread(end, msg)
        if (sync) return
        // the goodbye, or the end, is handed over now, as the reference
        // hands over every packet: the code that ended the session may
        // close the transport next (muxrpc aborts the decoding side, which
        // destroys a socket), and what a microtask hands over then is lost
        if (end || msg === GOODBYE) pump()
        else later()
      })
      sync = false
    }

    // Reads the source for as long as it answers at once and the chunk is
    // not full, then keeps a read out while the read-ahead has room.
    function fill () {
      while (!reading && !ended && !done && held === null && framer.pending < chunk) readOnce()
      if (!reading && !ended && !done && held === null && framer.pending < readAhead) readOnce()
    }

    function pump () {
      fill()
      deliver()
    }

    // An answer that came later: read on at once (so that a source that
    // pushes never queues up), and hand over once the code that pushed is
    // done, so that what it pushed in one go leaves as one chunk.
    function later () {
      fill()
      if (!flushing) {
        flushing = true
        queueMicrotask(flush)
      }
    }

    function flush () {
      flushing = false
      deliver()
    }

    return function pscEncodeRead (abort, cb) {
      if (done) return cb(ended || true)
      if (abort) {
        done = true
        ended = ended || abort // for a read of ours still out
        framer.free()
        // a read of downstream's still out hears the abort first
        const pending = waiting
        waiting = null
        if (sourceAborted) {
          if (pending) pending(abort)
          return cb(abort)
        }
        sourceAborted = true
        return read(abort, (end) => {
          if (pending) pending(abort)
          cb(end)
        })
      }
      waiting = cb
      pump()
    }
  }
}

// Through-stream: byte chunks in, packets out; 'GOODBYE' then the end when
// the goodbye arrives. A protocol error ends the stream with that error, a
// source that ends in the middle of a frame with a truncation error.
// A chunk is decoded DECODE_STEP bytes at a time, the next step once the
// packets of the last have been read: a large chunk (1 MiB from our own
// encoder, a WebSocket message) would otherwise become tens of thousands of
// packets at once, which live long enough to cost the GC far more.
const DECODE_STEP = 65536

function decode (limits) {
  return function pscDecode (read) {
    const framer = new Framer(limits)
    const queue = [] // packets decoded, handed out from |head| on
    let head = 0
    let ended = null
    let sourceAborted = false // by us after an error, or for downstream: once
    let pending = null // downstream's callback while a read of ours is out
    let rest = null // what is left of the chunk being decoded
    let restAt = 0

    function take () {
      const p = queue[head++]
      if (head === queue.length) {
        queue.length = 0
        head = 0
      }
      return p
    }

    // Decodes the next step of the chunk being decoded.
    function step () {
      const data = rest
      const from = restAt
      const to = Math.min(data.length, from + DECODE_STEP)
      if (to === data.length) rest = null
      else restAt = to
      const err = framer.decode(data, queue, from, to)
      if (queue.length > head && queue[queue.length - 1] === GOODBYE) ended = true
      if (err) {
        ended = err
        sourceAborted = true
        read(err, () => {}) // the rest of the source is of no use
      }
      if (ended) {
        rest = null
        framer.free()
      }
    }

    function onchunk (end, data) {
      if (end) {
        ended = ended || (end === true && framer.midframe ? coreError(C.errors.ERR_TRUNCATED) : end)
        framer.free()
      } else if (!ended && !(data instanceof Uint8Array)) {
        ended = Framer._notBytes(data)
        sourceAborted = true
        read(ended, () => {})
        framer.free()
      } else if (!ended) {
        rest = data
        restAt = 0
        step()
      }
    }

    return function pscDecodeRead (abort, cb) {
      if (abort) {
        framer.free()
        ended = ended || abort
        if (sourceAborted) return cb(abort)
        sourceAborted = true
        // a read of downstream's still out hears the abort first, even if
        // the source does not answer it
        return read(abort, (end) => {
          const p = pending
          pending = null
          if (p) p(abort)
          cb(end)
        })
      }
      for (;;) {
        if (head < queue.length) return cb(null, take())
        if (ended) return cb(ended)
        if (rest !== null) {
          step()
          continue
        }
        let sync = true
        let answered = false
        read(null, (end, data) => {
          if (!sync) {
            if (pending !== cb) return // answered already, by an abort
            pending = null
          }
          onchunk(end, data)
          answered = true
          if (!sync) pscDecodeRead(null, cb)
        })
        sync = false
        if (!answered) {
          pending = cb
          return
        }
      }
    }
  }
}

function codec (stream, limits) {
  if (typeof limits !== 'object') limits = undefined // packet-stream-codec's debug flag
  return {
    source: encode(limits)(stream.source),
    sink (read) {
      return stream.sink(decode(limits)(read))
    }
  }
}

// All of |packets| framed into one buffer.
function encodePackets (packets, limits) {
  const framer = new Framer(limits)
  try {
    for (const p of packets) framer.encode(p)
    return framer.take() || new Uint8Array(0)
  } finally {
    framer.free()
  }
}

// The packets framed in |bytes|, which must end on a frame boundary.
function decodePackets (bytes, limits) {
  const framer = new Framer(limits)
  const out = []
  try {
    const err = framer.decode(bytes, (p) => out.push(p))
    if (err) throw err
    if (framer.midframe) throw coreError(C.errors.ERR_TRUNCATED)
    return out
  } finally {
    framer.free()
  }
}

// packet-stream-codec's frame of one packet as [header, body]: 9 bytes and
// the body (null for the goodbye). Framed by the core as the encoder frames
// (its limits, its types); a binary body of 8 KiB or more is the one given.
let pairFramer = null
function encodePair (msg) {
  if (!pairFramer) pairFramer = new Framer(undefined, { passBodies: true })
  pairFramer.encode(msg) // frames it whole or throws with nothing framed
  const chunks = pairFramer.takeChunks()
  if (chunks.length === 2) return chunks // the header, and the body beside
  const framed = chunks[0]
  const head = framed.subarray(0, HEADER_SIZE)
  return [head, msg === GOODBYE ? null : framed.subarray(HEADER_SIZE)]
}

// packet-stream-codec's reading of a 9-byte header: the packet without its
// value, and the body's length and type, for decodeBody.
function decodeHead (bytes) {
  if (bytes.length !== HEADER_SIZE) throw new Error('expected header to be 9 bytes long')
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE)
  const flags = bytes[0]
  return {
    req: view.getInt32(5),
    stream: !!(flags & C.flags.FLAG_STREAM),
    end: !!(flags & C.flags.FLAG_END),
    value: null,
    length: view.getUint32(1),
    type: flags & 3
  }
}

// Sets msg.value from the body that follows a header read by decodeHead.
function decodeBody (bytes, msg) {
  if (bytes.length !== msg.length) throw new Error(`incorrect length, expected:${msg.length} found:${bytes.length}`)
  if (msg.type === C.types.TYPE_BINARY) msg.value = bytes
  else if (msg.type === C.types.TYPE_STRING) msg.value = Framer._utf8(bytes)
  else if (msg.type === C.types.TYPE_JSON) msg.value = JSON.parse(Framer._utf8(bytes))
  else throw new Error('unknown message type')
  return msg
}

codec.encode = encode
codec.decode = decode
codec.encodePackets = encodePackets
codec.decodePackets = decodePackets
codec.encodePair = encodePair
codec.decodeHead = decodeHead
codec.decodeBody = decodeBody
codec.Framer = Framer
codec.GOODBYE = GOODBYE
module.exports = codec
