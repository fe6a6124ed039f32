'use strict'
// Packets to bytes and back through the C core's framer (ps_framer), typed
// as packet-stream-codec types them: Uint8Array (Buffer) -> binary, string ->
// UTF-8 string, anything else -> JSON. Bodies are written into wasm memory
// once (TextEncoder.encodeInto or Buffer's utf8Write, Uint8Array.set) and
// read back through views; the framed bytes leave as one copy per take().
// A binary body that lies whole in the chunk being decoded is handed up as
// a view of that chunk rather than copied out of the core (packet-stream-
// codec's decoder hands up slices of its input too), provided it is at
// least 1/SHARE_RATIO of the chunk, so that a value keeps at most
// SHARE_RATIO times its size alive.
// With { passBodies: true } binary bodies of BESIDE bytes or more are not
// copied into the core: it frames their header, and they leave beside the
// framed bytes, as given (takeChunks), or copied once into the one buffer of
// take(). Like packet-stream-codec, the framer then holds the caller's
// buffer until the next take; without the option every body is copied when
// it is encoded, and the caller may reuse its buffer at once.
const { core, need, coreError, limitOf, C } = require('./wasm')

const GOODBYE = 'GOODBYE' // what packet-stream-codec hands out for the goodbye
const BINARY = C.types.TYPE_BINARY
const STRING = C.types.TYPE_STRING
const JSON_TYPE = C.types.TYPE_JSON
const FLAG_STREAM = C.flags.FLAG_STREAM
const FLAG_END = C.flags.FLAG_END
const HEADER_SIZE = C.HEADER_SIZE
const BATCH = 64 // frames decoded per call into the core
const GATHER_FROM = 256 * 1024 // bodies this large arriving in pieces are gathered in JS
const FRAME_WORDS = 5 // ps_frame in wasm32: flags, type, len, req, data
// Input goes into the core in slices of at most MAX_INPUT bytes, so that a
// large chunk (a WebSocket message of many MiB) does not grow the core's
// memory, which never shrinks: what a session holds stays bounded by its
// limits, not by the size of what the transport hands over at once. The
// slices go through one buffer for every framer (a decode is done with it
// when it returns), so that a framer holds no input between decodes and one
// dropped without free() costs the core little until the GC finds it; a
// decode that starts while another framer's is under way (from within its
// onpacket) gets one of its own for that time. After a decode a buffer over
// KEEP_INPUT is let go; one up to it (the 64 KiB chunks of a Node socket)
// is kept, since getting it anew for every chunk costs more than the
// decoding of small packets. Likewise the core's output buffer is let go
// after a take when it holds more than the core's KEEP_OUTPUT (growing it
// again for the next burst costs nothing measurable next to framing it).
const MIN_INPUT = 16384
const MAX_INPUT = 1 << 20
const KEEP_INPUT = 65536
const input = { at: 0, size: 0, busy: false } // the buffer every framer's input goes through
// JSON bodies up to this size in one batch are parsed with one JSON.parse of
// them joined into an array (see c/ps_json.h): a call of JSON.parse costs
// about as much as parsing a small body.
const JOIN_MAX = 1024
// From this size on a binary body costs more to copy into the core and out
// again (fresh memory for every byte) than to hand over as a chunk of its own.
const BESIDE = 8192
const SHARE_RATIO = 64

const hasBuffer = typeof Buffer === 'function'
const encoder = typeof TextEncoder === 'function' ? new TextEncoder() : null
// ignoreBOM: a U+FEFF that starts a string is part of it, as in Buffer's
// decoding and JSON.parse (TextDecoder drops it by default)
const decoder = typeof TextDecoder === 'function' ? new TextDecoder('utf-8', { ignoreBOM: true }) : null
const utf8Write = hasBuffer && typeof Buffer.prototype.utf8Write === 'function'
  ? (buf, str, at, max) => buf.utf8Write(str, at, max)
  : hasBuffer ? (buf, str, at, max) => buf.write(str, at, max, 'utf8') : null
const utf8Slice = hasBuffer && typeof Buffer.prototype.utf8Slice === 'function'
  ? (buf, a, b) => buf.utf8Slice(a, b)
  : (buf, a, b) => buf.toString('utf8', a, b)

let w = null
let joinAt = 0 // where ps_json_join writes: one place for every framer

function byteLength (str) {
  return hasBuffer ? Buffer.byteLength(str, 'utf8') : encoder.encode(str).length
}

// A copy of wasm bytes [a, b): a Uint8Array outside Node; in Node a Buffer
// from |alloc|, not zeroed first: Buffer.allocUnsafeSlow for framed bytes
// (an ArrayBuffer of their own, which a transport may transfer),
// Buffer.allocUnsafe for decoded values (out of Node's pool when small, as
// most Buffers are: far cheaper than an ArrayBuffer each).
const allocFramed = hasBuffer ? Buffer.allocUnsafeSlow : null
const allocValue = hasBuffer ? Buffer.allocUnsafe : null
function copyOut (a, b, alloc) {
  if (!hasBuffer) return core.u8.slice(a, b)
  const bytes = alloc(b - a)
  bytes.set(core.u8.subarray(a, b))
  return bytes
}

// A decoded packet, as packet-stream-codec hands it out.
const packetOf = (flags, req, value) => ({ req, stream: (flags & FLAG_STREAM) !== 0, end: (flags & FLAG_END) !== 0, value })

// The error of a JSON body that does not parse.
function badBody (cause) {
  const err = coreError(C.errors.ERR_BAD_BODY)
  err.cause = cause
  return err
}

// A buffer of |n| bytes for a body gathered in JS: a Buffer in Node.
const allocBody = (n) => (hasBuffer ? Buffer.allocUnsafe(n) : new Uint8Array(n))

// |n| bytes of |chunk| from |at| on, without a copy: a Buffer in Node.
function view (chunk, at, n) {
  return hasBuffer ? Buffer.from(chunk.buffer, chunk.byteOffset + at, n) : chunk.subarray(at, at + n)
}

// What a packet's frame carries: its value, or for an end without one its
// end (true, as packet-stream sends).
const bodyOf = (msg) => (msg.value !== undefined ? msg.value : msg.end)

// JSON.stringify, whose failures (a BigInt, a circular object, a toJSON
// that throws) become errors with a code, as the core's refusals are.
// Numbers and booleans are written here: JSON.stringify costs five times
// as much for them (no toJSON applies to a primitive, so the text is the
// same); for objects it is as fast as anything written in JS. (Integers
// that fit an int32 do not come here: the core writes their text.) A value
// with no JSON text (undefined, a function) is sent as null.
function stringify (value) {
  if (typeof value === 'number') return value - value === 0 ? '' + value : 'null' // NaN, Infinity: null
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  try {
    const json = JSON.stringify(value)
    return json === undefined ? 'null' : json
  } catch (thrown) {
    const err = new TypeError(`packet-stream-wasm: the value cannot be sent as JSON: ${thrown && thrown.message}`)
    err.code = C.errors.ERR_INVALID_ARGUMENT
    err.cause = thrown
    throw err
  }
}

// ASCII bytes [a, b) of the core's memory as a string.
const ascii = hasBuffer && typeof Buffer.prototype.latin1Slice === 'function'
  ? (a, b) => core.buf.latin1Slice(a, b)
  : (a, b) => text(a, b)

function text (a, b) {
  return core.buf ? utf8Slice(core.buf, a, b) : decoder.decode(core.u8.subarray(a, b))
}

// The UTF-8 text of |bytes|, decoded as the core's bodies are.
function utf8 (bytes) {
  return hasBuffer ? utf8Slice(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), 0, bytes.length) : decoder.decode(bytes)
}

// The error of a chunk to decode that is not bytes (a string from a stream
// with an encoding set): taken for bytes, it would be misread.
function notBytes (chunk, what = 'bytes to decode must be') {
  const kind = chunk === null ? 'null' : typeof chunk === 'string' ? 'a string (is an encoding set on the stream?)' : typeof chunk === 'object' ? `an object (${Object.prototype.toString.call(chunk).slice(8, -1)})` : typeof chunk
  const err = new TypeError(`packet-stream-wasm: ${what} a Uint8Array or Buffer, not ${kind}`)
  err.code = C.errors.ERR_INVALID_ARGUMENT
  return err
}

// An input buffer (|input|, or one of a decode's own) with room for |len|.
function growInput (buf, len) {
  let size = Math.max(MIN_INPUT, buf.size)
  while (size < len) size *= 2
  dropInput(buf)
  buf.at = w.psw_malloc(size)
  if (!buf.at) throw coreError(C.errors.ERR_NOMEM)
  buf.size = size
}

function dropInput (buf) {
  if (buf.at) w.psw_free(buf.at)
  buf.at = 0
  buf.size = 0
}

class Framer {
  // limits: { maxFrame, maxOutbuf } (core defaults when absent);
  // opts: { passBodies } (see above)
  constructor (limits, opts) {
    if (!w) w = need().exports
    if (!joinAt) {
      joinAt = w.psw_malloc(JOIN_BYTES + BATCH)
      if (!joinAt) throw coreError(C.errors.ERR_NOMEM)
    }
    if (!tape.at) tape.init()
    this.maxFrame = limitOf(limits, 'maxFrame')
    this.maxOutbuf = limitOf(limits, 'maxOutbuf')
    const f = w.psw_framer_new(this.maxFrame, this.maxOutbuf)
    if (f < 0) throw coreError(f)
    this._f = f // 0 once freed
    this._besideFrom = opts && opts.passBodies ? BESIDE : Infinity
    this._pending = 0 // bytes framed and beside, not yet taken
    this._beside = [] // bodies beside: [offset in the framed bytes, body, ...]
    this._frames = w.psw_malloc(BATCH * FRAME_WORDS * 4 + 4) // the batch, then its count
    this._busy = false // decoding: a chunk that arrives meanwhile waits
    this._waiting = [] // chunks that arrived while busy, each with its onpacket
    this.error = null // the decoding error, once there was one
    this._body = null // a large body being gathered (see _takeBody)
    // what the GC frees if the framer is dropped without free(); it must
    // not refer to the framer itself
    this._held = { f, frames: this._frames }
    if (registry) registry.register(this, this._held, this)
  }

  // Bytes framed and not yet taken: counted here as the core counts them
  // (a header and a body per frame), since transports ask after every
  // packet and a call into the core for it would double their crossings.
  get pending () {
    return this._pending
  }

  // Bytes the core holds for this framer.
  get memory () {
    return this._f ? w.ps_framer_memory(this._f) + BATCH * FRAME_WORDS * 4 : 0
  }

  // Frames one packet ({req, stream, end, value}) or the goodbye. Throws on
  // a body over maxFrame, an output over maxOutbuf, or a freed framer.
  encode (msg) {
    const f = this._f
    if (!f) throw coreError(C.errors.ERR_CLOSED)
    if (msg === GOODBYE) {
      const rv = w.ps_framer_goodbye(f)
      if (rv < 0) throw coreError(rv)
      this._pending += HEADER_SIZE
      return
    }
    const flags = (msg.stream ? FLAG_STREAM : 0) | (msg.end ? FLAG_END : 0)
    const req = msg.req | 0
    if (req !== msg.req && (msg.req > 0x7fffffff || msg.req < -0x80000000)) {
      // a header holds an int32: wrapping would make a request a response
      const err = new RangeError(`packet-stream-wasm: req must fit a 32-bit integer, not ${msg.req}`)
      err.code = C.errors.ERR_INVALID_ARGUMENT
      throw err
    }
    const body = bodyOf(msg)
    let rv
    if (typeof body === 'string') rv = this._putString(flags, STRING, req, body)
    else if (typeof body === 'number' && (body | 0) === body) {
      // an int32 (or -0, whose text is 0): its text is made by the core
      rv = w.ps_framer_put_int(this._f, flags, req, body)
    } else if (body instanceof Uint8Array) {
      if (body.length >= this._besideFrom) return this._putBeside(flags, req, body)
      rv = this._putBytes(flags, req, body)
    } else {
      rv = this._putString(flags, JSON_TYPE, req, stringify(body))
    }
    if (rv < 0) throw coreError(rv)
    this._pending += HEADER_SIZE + rv
  }

  // The bytes |msg| takes framed (its header and body), as encode would
  // frame it; for the rare caller that must know before (or without)
  // framing it.
  static frameBytes (msg) {
    if (msg === GOODBYE) return HEADER_SIZE
    const body = bodyOf(msg)
    if (typeof body === 'string') return HEADER_SIZE + byteLength(body)
    if (body instanceof Uint8Array) return HEADER_SIZE + body.length
    return HEADER_SIZE + byteLength(stringify(body))
  }

  _putBeside (flags, req, bytes) {
    const rv = w.ps_framer_header(this._f, flags, BINARY, req, bytes.length)
    if (rv < 0) throw coreError(rv)
    this._pending += HEADER_SIZE + bytes.length
    // the body goes right after the bytes framed so far
    this._beside.push(w.ps_framer_pending(this._f), bytes)
  }

  // The largest body the next frame may have within maxOutbuf.
  _room () {
    return this.maxOutbuf - this._pending - HEADER_SIZE
  }

  // Why the core gave no place for a body of |len| bytes: the frame would
  // not fit maxOutbuf (the core refuses it before growing), or no memory.
  _noBody (len) {
    return len > this._room() ? C.errors.ERR_OUTBUF_LIMIT : C.errors.ERR_NOMEM
  }

  // _putString and _putBytes return the body's length, or an error code.
  _putString (flags, type, req, str) {
    let max = str.length * 3
    if (max > this.maxFrame || max > this._room()) {
      max = byteLength(str) // the bound is too coarse: measure
      if (max > this.maxFrame) return C.errors.ERR_FRAME_TOO_LARGE
    }
    const at = w.ps_framer_body(this._f, max) // may grow memory: views after
    if (!at) return this._noBody(max)
    const n = core.buf
      ? utf8Write(core.buf, str, at, max)
      : encoder.encodeInto(str, core.u8.subarray(at, at + max)).written
    const rv = w.ps_framer_put(this._f, flags, type, req, at, n)
    return rv < 0 ? rv : n
  }

  _putBytes (flags, req, bytes) {
    const n = bytes.length
    if (n > this.maxFrame) return C.errors.ERR_FRAME_TOO_LARGE
    const at = w.ps_framer_body(this._f, n)
    if (!at) return this._noBody(n)
    core.u8.set(bytes, at)
    const rv = w.ps_framer_put(this._f, flags, BINARY, req, at, n)
    return rv < 0 ? rv : n
  }

  // Everything framed since the last take, as one new buffer (a Buffer in
  // Node, with an ArrayBuffer of its own), or null when there is nothing.
  take () {
    if (!this._f || this._pending === 0) return null
    const n = w.ps_framer_send(this._f, core.scratch)
    const at = core.i32[core.scratch >> 2]
    let out
    if (this._beside.length === 0) {
      this._taken()
      out = copyOut(at, at + n, allocFramed)
    } else {
      // the framed bytes, read in place, and the bodies beside, each
      // copied once into the one buffer
      out = hasBuffer ? allocFramed(this._pending) : new Uint8Array(this._pending)
      let to = 0
      for (const chunk of this._cut(core.u8.subarray(at, at + n))) {
        out.set(chunk, to)
        to += chunk.length
      }
    }
    w.ps_framer_trim(this._f)
    return out
  }

  // Everything framed since the last take, as a list of buffers to send in
  // order: the framed bytes (one copy, cut where bodies go beside) and the
  // bodies beside as they were given. Null when there is nothing.
  takeChunks () {
    if (!this._f || this._pending === 0) return null
    const n = w.ps_framer_send(this._f, core.scratch)
    const at = core.i32[core.scratch >> 2]
    const chunks = this._cut(copyOut(at, at + n, allocFramed))
    w.ps_framer_trim(this._f)
    return chunks
  }

  // |framed| (the bytes just sent by the core) cut where the bodies beside
  // go, with those bodies in between; the framer is empty after it.
  _cut (framed) {
    const beside = this._beside
    const out = []
    let from = 0
    for (let i = 0; i < beside.length; i += 2) {
      out.push(framed.subarray(from, beside[i]), beside[i + 1])
      from = beside[i]
    }
    if (from < framed.length) out.push(framed.subarray(from))
    this._taken()
    return out
  }

  _taken () {
    this._pending = 0
    this._beside.length = 0
  }

  // True while part of a frame has arrived (an end now would cut it).
  get midframe () {
    return this._f ? this._body !== null || w.ps_framer_midframe(this._f) === 1 : false
  }

  // Decodes bytes of the transport, any chunking, calling onpacket with
  // each packet ({req, stream, end, value}) and with 'GOODBYE', or pushing
  // them onto onpacket if it is an array (no code of the caller runs
  // meanwhile). Returns null, or the Error of a protocol error (also kept in
  // this.error; later input is ignored). A chunk that arrives from within
  // onpacket is copied and waits until the current one is done, so that
  // packets keep their order. Binary values may be views of |chunk| (see
  // the top): the caller must not reuse its memory afterwards. |from| and
  // |to| decode only bytes [from, to) of the chunk, the next part of it in a
  // later call (what a view may hold is still measured against the whole).
  decode (chunk, onpacket, from = 0, to = chunk.length) {
    if (!(chunk instanceof Uint8Array)) throw notBytes(chunk)
    if (this.error) return this.error
    if (!this._f) return null
    if (this._busy) {
      const copy = new Uint8Array(chunk.subarray(from, to)) // the caller may reuse its buffer
      this._waiting.push(copy, onpacket)
      return null
    }
    this._busy = true
    try {
      this._decode(chunk, onpacket, from, to)
      for (let i = 0; i < this._waiting.length && !this.error && this._f; i += 2) {
        this._decode(this._waiting[i], this._waiting[i + 1], 0, this._waiting[i].length)
      }
    } finally {
      this._busy = false
      this._waiting.length = 0
    }
    return this.error
  }

  _decode (chunk, onpacket, from, to) {
    const shareFrom = Math.ceil(chunk.length / SHARE_RATIO)
    const own = input.busy ? { at: 0, size: 0, busy: true } : input
    own.busy = true
    try {
      while (from < to && this._f && !this.error) {
        if (this._body !== null) {
          from = this._gather(chunk, from, to, onpacket)
          continue
        }
        const n = Math.min(to - from, MAX_INPUT)
        if (n > own.size) growInput(own, n)
        core.u8.set(n === chunk.length ? chunk : chunk.subarray(from, from + n), own.at)
        this._decodeSlice(chunk, from, n, shareFrom, onpacket, own.at)
        from += n
        if (this._f && !this.error) this._takeBody()
      }
    } finally {
      own.busy = false
      if (own !== input || own.size > KEEP_INPUT) dropInput(own)
    }
  }

  // A body of GATHER_FROM bytes or more that is arriving in pieces is
  // gathered here, out of the core, whose memory never shrinks: a peer that
  // sends most of a large frame and waits then holds memory the GC takes
  // back once the session is gone. It is gathered into one buffer that
  // doubles as the body arrives (up to its length), so that a body sent a
  // byte at a time costs at most twice its size, not a Buffer per piece.
  _takeBody () {
    const fr = this._frames
    const haveAt = fr + BATCH * FRAME_WORDS * 4
    if (w.ps_framer_take_body(this._f, GATHER_FROM, fr, haveAt) !== 1) return
    const i32 = core.i32
    const r = fr >> 2
    const have = i32[haveAt >> 2]
    const len = i32[r + 2] >>> 0
    const at = i32[r + 4]
    const bytes = allocBody(Math.min(len, Math.max(2 * have, GATHER_FROM)))
    bytes.set(core.u8.subarray(at, at + have))
    w.ps_framer_trim(this._f) // the core's copy goes now, not at the next frame
    this._body = { flags: i32[r], type: i32[r + 1], len, req: i32[r + 3], bytes, have }
  }

  // Takes the rest of the body being gathered from bytes [from, to) of
  // |chunk|, and hands out its packet once it is whole; returns where the
  // next frame starts.
  _gather (chunk, from, to, onpacket) {
    const body = this._body
    const n = Math.min(to - from, body.len - body.have)
    if (body.have + n > body.bytes.length) {
      const grown = allocBody(Math.min(body.len, Math.max(2 * body.bytes.length, body.have + n)))
      grown.set(body.bytes.subarray(0, body.have))
      body.bytes = grown
    }
    body.bytes.set(chunk.subarray(from, from + n), body.have)
    body.have += n
    if (body.have < body.len) return from + n
    this._body = null
    const bytes = body.bytes // its length is the body's
    let value
    if (body.type === BINARY) value = bytes
    else if (body.type === STRING) value = utf8(bytes)
    else {
      try {
        value = JSON.parse(utf8(bytes))
      } catch (err) {
        this.error = badBody(err)
        return to
      }
    }
    const packet = packetOf(body.flags, body.req, value)
    if (Array.isArray(onpacket)) onpacket.push(packet)
    else onpacket(packet)
    return from + n
  }

  // Decodes bytes [from, from + len) of |chunk|, which lie at |chunkAt| in
  // the core's memory.
  _decodeSlice (chunk, from, len, shareFrom, onpacket, chunkAt) {
    const countAt = this._frames + BATCH * FRAME_WORDS * 4
    const into = Array.isArray(onpacket)
    const batch = into ? onpacket : []
    let pos = 0
    while (this._f) {
      const rv = w.ps_framer_recv(this._f, chunkAt + pos, len - pos, this._frames, BATCH, countAt)
      if (rv < 0) {
        this.error = coreError(rv)
        return
      }
      const count = core.i32[countAt >> 2]
      pos += rv
      // Values are made before any is handed out: a handler may run code
      // that calls back into the core.
      tape.write(this._frames, count) // marks the frames it tapes
      const joined = count > 1 ? joinJson(this._frames, count) : null
      let k = 0
      const i32 = core.i32
      for (let i = 0, r = this._frames >> 2; i < count; i++, r += FRAME_WORDS) {
        const flags = i32[r]
        const type = i32[r + 1]
        const n = i32[r + 2]
        const req = i32[r + 3]
        const at = i32[r + 4]
        if (at === 0 && n === 0 && flags === 0 && type === 0 && req === 0) {
          batch.push(GOODBYE)
          break
        }
        let value
        if (type === BINARY) {
          value = n >= shareFrom && at >= chunkAt && at + n <= chunkAt + len
            ? view(chunk, from + at - chunkAt, n)
            : copyOut(at, at + n, allocValue)
        } else if (type === STRING) value = text(at, at + n)
        else if (core.u8[joinAt + JOIN_BYTES + i] === 2) value = tape.read(i, at)
        else if (joined !== null && core.u8[joinAt + JOIN_BYTES + i] === 1) value = joined[k++]
        else {
          try {
            value = JSON.parse(text(at, at + n))
          } catch (err) {
            this.error = badBody(err)
            break
          }
        }
        batch.push(packetOf(flags, req, value))
      }
      if (!into) {
        for (let i = 0; i < batch.length; i++) onpacket(batch[i])
        batch.length = 0
      }
      if (this.error || (rv === 0 && count === 0) || pos >= len) return
    }
  }

  // Frees the core's side. Idempotent.
  free () {
    if (!this._f) return
    if (registry) registry.unregister(this)
    w.ps_framer_del(this._f)
    w.psw_free(this._frames)
    this._f = 0
    this._body = null
    this._taken()
  }
}

// The values of the JSON bodies of a batch that ps_json_join put into one
// array (marked after the array), or null: none were, or the array does not
// parse (then each body is parsed alone, and the bad one is found).
const JOIN_BYTES = BATCH * (JOIN_MAX + 1) + 2
function joinJson (frames, count) {
  const n = w.ps_json_join(frames, count, JOIN_MAX, joinAt, joinAt + JOIN_BYTES)
  if (n === 0) return null
  try {
    return JSON.parse(text(joinAt, joinAt + n))
  } catch (err) {
    return null
  }
}

// JSON bodies read from the core's tape (see c/ps_json.h): the core checks
// their grammar and cuts them into tokens, and the values are built here
// without JSON.parse, whose cost is mostly per object (about 180 ns for a
// small one on the machine of the benchmarks, where building it here takes
// 40-100). The tape describes exactly what JSON.parse would make, and
// whatever it does not describe is left to JSON.parse. Strings and the keys
// of objects are cached under the core's slots and stamps; an object shape
// seen COMPILE_AFTER times in a row is built by a function made for it (an
// object literal), where the platform allows new Function.
const TAPE_WORDS = 32768
const TAPE_BODY_MAX = JOIN_MAX
const COMPILE_AFTER = 256
const tape = {
  at: 0, // the tape in the core's memory
  starts: 0, // per frame of a batch, where its tape starts (or -1)
  cache: 0,
  pos: 0, // the word being read
  body: 0, // the address of the body being read
  strLo: new Int32Array(C.json.STR_SLOTS),
  strHi: new Int32Array(C.json.STR_SLOTS),
  strs: new Array(C.json.STR_SLOTS).fill(''),
  shapeLo: new Int32Array(C.json.SHAPE_SLOTS),
  shapeHi: new Int32Array(C.json.SHAPE_SLOTS),
  shapeKeys: new Array(C.json.SHAPE_SLOTS).fill(null),
  shapeUses: new Int32Array(C.json.SHAPE_SLOTS),
  shapeMake: new Array(C.json.SHAPE_SLOTS).fill(null),
  canCompile: true,
  keys: null, // the keys members() read last, when asked for
  // Values read and not yet in their array or object: own elements made up
  // front (and by concat when it grows), so that no write to it meets an
  // accessor that user code put on Array.prototype, and no user code runs
  // while the shared tape is read.
  stack: Array.from({ length: 2048 }),
  sp: 0,

  init () {
    this.cache = w.ps_json_cache_new()
    this.at = w.psw_malloc(TAPE_WORDS * 4 + BATCH * 4)
    if (!this.cache || !this.at) throw coreError(C.errors.ERR_NOMEM)
    this.starts = this.at + TAPE_WORDS * 4
  },

  // Tapes what it can of a batch, marking those frames 2 in the marks
  // ps_json_join reads next (the others 0).
  write (frames, count) {
    w.ps_json_tape(this.cache, frames, count, TAPE_BODY_MAX, this.at, TAPE_WORDS, this.starts, joinAt + JOIN_BYTES)
  },

  // The value of frame |i| of the batch, whose body is at |body|.
  read (i, body) {
    this.pos = (this.at >> 2) + core.i32[(this.starts >> 2) + i]
    this.body = body
    this.sp = 0
    return this.value(core.i32)
  },

  value (t) {
    const p = this.pos
    switch (t[p]) {
      case JT.NULL: this.pos = p + 1; return null
      case JT.TRUE: this.pos = p + 1; return true
      case JT.FALSE: this.pos = p + 1; return false
      case JT.INT: this.pos = p + 2; return t[p + 1]
      case JT.STR: {
        const slot = t[p + 1]
        this.pos = p + 6
        if (this.strLo[slot] === t[p + 2] && this.strHi[slot] === t[p + 3]) return this.strs[slot]
        const str = this.string(JT.ASCII, t[p + 4], t[p + 5])
        this.strs[slot] = str
        this.strLo[slot] = t[p + 2]
        this.strHi[slot] = t[p + 3]
        return str
      }
      case JT.ARRAY: {
        const n = t[p + 1]
        this.pos = p + 2
        const base = this.sp
        for (let i = 0; i < n; i++) this.push(this.value(t))
        // as JSON.parse makes it: own elements (slice defines them)
        const a = this.stack.slice(base, this.sp)
        this.drop(base)
        return a
      }
      case JT.OBJECT: return this.object(t, p)
      case JT.NUM: this.pos = p + 3; return Number(ascii(this.body + t[p + 1], this.body + t[p + 1] + t[p + 2]))
      default: // a string that is not cached
        this.pos = p + 3
        return this.string(t[p], t[p + 1], t[p + 2])
    }
  },

  push (v) {
    if (this.sp === this.stack.length) this.stack = this.stack.concat(Array.from({ length: this.sp }))
    this.stack[this.sp++] = v
  },

  // Forgets the values from |base| on (they are not kept alive here).
  drop (base) {
    const stack = this.stack
    for (let i = base; i < this.sp; i++) stack[i] = undefined
    this.sp = base
  },

  string (kind, at, n) {
    const a = this.body + at
    if (kind === JT.ASCII) return ascii(a, a + n)
    if (kind === JT.UTF8) return text(a, a + n)
    return JSON.parse(text(a, a + n)) // escaped: the core checked its escapes
  },

  object (t, p) {
    const n = t[p + 1]
    const slot = t[p + 2]
    this.pos = p + 5
    if (slot < 0) return this.members(t, n, null)
    if (this.shapeLo[slot] !== t[p + 3] || this.shapeHi[slot] !== t[p + 4]) {
      // a shape new to this side: its keys are kept once all are read (an
      // object inside may have the same shape)
      const o = this.members(t, n, true)
      this.shapeLo[slot] = t[p + 3]
      this.shapeHi[slot] = t[p + 4]
      this.shapeKeys[slot] = this.keys
      this.shapeUses[slot] = 0
      this.shapeMake[slot] = null
      return o
    }
    const make = this.shapeMake[slot]
    if (make !== null) {
      const base = this.sp
      for (let i = 0; i < n; i++) {
        this.pos += 3 // the key
        this.push(this.value(t))
      }
      const o = make(this.stack, base)
      this.drop(base)
      return o
    }
    const keys = this.shapeKeys[slot]
    if (++this.shapeUses[slot] === COMPILE_AFTER && this.canCompile) this.shapeMake[slot] = compileShape(keys)
    const o = {}
    for (let i = 0; i < n; i++) {
      this.pos += 3
      put(o, keys[i], this.value(t))
    }
    return o
  },

  // The members of an object read key by key; with |wantKeys| its keys are
  // left in this.keys.
  members (t, n, wantKeys) {
    const base = this.sp
    for (let i = 0; i < n; i++) {
      const p = this.pos
      this.pos = p + 3
      this.push(this.string(t[p], t[p + 1], t[p + 2]))
      this.push(this.value(t))
    }
    const stack = this.stack
    const o = {}
    for (let i = base; i < this.sp; i += 2) put(o, stack[i], stack[i + 1])
    if (wantKeys) this.keys = Array.from({ length: n }, (_, i) => stack[base + 2 * i])
    this.drop(base)
    return o
  }
}

// o[key] = v as JSON.parse does it (a new own property), also where the
// key names something of Object.prototype: "__proto__", or "toString" where
// Object.prototype is frozen (hardened JS), which an assignment would fail on.
const objectProto = Object.prototype
function put (o, key, v) {
  if (key in objectProto) Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true })
  else o[key] = v
}
const JT = C.json.tokens

// A function that builds an object of |keys| (plain ASCII, never
// "__proto__", as the core shapes them) from stack[base...]; null where new
// Function is not allowed (a Content-Security-Policy without unsafe-eval).
function compileShape (keys) {
  try {
    const members = keys.map((k, i) => `${JSON.stringify(k)}: s[b + ${i}]`)
    return new Function('s', 'b', `return { ${members.join(', ')} }`) // eslint-disable-line no-new-func
  } catch (err) {
    tape.canCompile = false
    return null
  }
}

// A framer dropped without free() is freed by the GC.
const registry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ f, frames }) => {
    w.ps_framer_del(f)
    w.psw_free(frames)
  })
  : null

Framer.GOODBYE = GOODBYE
Framer._utf8 = utf8 // for the codec, not part of the API
Framer._notBytes = notBytes
module.exports = Framer
