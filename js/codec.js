'use strict'
// A drop-in for packet-stream-codec@1.2.0 over the C core's framer:
//
//   codec(duplex) -> duplex   (packets <-> bytes, as muxrpc's 5th argument)
//   codec.encode()            through-stream: packets -> byte chunks
//   codec.decode()            through-stream: byte chunks -> packets
//
// plus, for framing by hand, codec.encodePackets(packets) -> bytes,
// codec.decodePackets(bytes) -> packets and the incremental codec.Framer.
//
// Differences that matter: the encoder reads its source ahead and hands
// downstream everything framed so far as one chunk (one buffer per read, not
// two per packet), so a burst never queues up packet by packet upstream; and
// only the all-zero header is goodbye (packet-stream-codec takes any empty
// body for one), so empty strings and buffers arrive intact.
const Framer = require('./framer')
const { C } = require('./wasm')

const { GOODBYE, coreError } = Framer

// Through-stream: packets (and 'GOODBYE') in, framed bytes out.
function encode (limits) {
  return function pscEncode (read) {
    const framer = new Framer(limits)
    let ended = null // the end of the source, or an encoding error
    let reading = false // a read of the source is out
    let waiting = null // downstream's callback
    let done = false

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
      const bytes = framer.take()
      if (bytes) {
        const cb = waiting
        waiting = null
        cb(null, bytes)
      } else if (ended) {
        finish(ended)
      }
    }

    function onread (end, msg) {
      reading = false
      if (end) ended = end
      else {
        try {
          framer.encode(msg)
        } catch (err) {
          ended = err
          read(err, () => {}) // abort the source: nothing more can be sent
        }
      }
    }

    // Reads the source for as long as it answers at once; an answer that
    // comes later pumps again, so a read is always out.
    function pump () {
      while (!reading && !ended && !done) {
        let sync = true
        reading = true
        read(null, (end, msg) => {
          onread(end, msg)
          if (!sync) {
            deliver()
            pump()
          }
        })
        sync = false
        if (reading) return
      }
      deliver()
    }

    return function pscEncodeRead (abort, cb) {
      if (done) return cb(ended || true)
      if (abort) {
        done = true
        framer.free()
        return read(abort, cb)
      }
      waiting = cb
      pump()
    }
  }
}

// Through-stream: byte chunks in, packets out; 'GOODBYE' then the end when
// the goodbye arrives. A protocol error ends the stream with that error, a
// source that ends in the middle of a frame with a truncation error.
function decode (limits) {
  return function pscDecode (read) {
    const framer = new Framer(limits)
    let queue = []
    let head = 0
    let ended = null
    const onpacket = (p) => {
      queue.push(p)
      if (p === GOODBYE) ended = true
    }

    function take () {
      const p = queue[head++]
      if (head === queue.length) {
        queue = []
        head = 0
      }
      return p
    }

    function onchunk (end, data) {
      if (end) {
        ended = end === true && framer.midframe ? coreError(C.errors.ERR_TRUNCATED) : end
      } else if (!ended) {
        const err = framer.decode(data, onpacket)
        if (err) {
          ended = err
          read(err, () => {}) // the rest of the source is of no use
        }
      }
      if (ended) framer.free()
    }

    return function pscDecodeRead (abort, cb) {
      if (abort) {
        framer.free()
        ended = ended || abort
        return read(abort, cb)
      }
      for (;;) {
        if (head < queue.length) return cb(null, take())
        if (ended) return cb(ended)
        let sync = true
        let answered = false
        read(null, (end, data) => {
          onchunk(end, data)
          answered = true
          if (!sync) pscDecodeRead(null, cb)
        })
        sync = false
        if (!answered) return
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

codec.encode = encode
codec.decode = decode
codec.encodePackets = encodePackets
codec.decodePackets = decodePackets
codec.Framer = Framer
codec.GOODBYE = GOODBYE
module.exports = codec
