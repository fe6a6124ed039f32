'use strict'
// Loads the C core once per process and keeps typed views on its memory.
//
// The module is small (tens of KB), so it is compiled synchronously
// everywhere: `require` works at once, as packet-stream's does, and Chromium
// allows synchronous compiles of modules up to 8 MiB even on the main thread.
// Where a platform refuses, `ready` compiles asynchronously instead and
// sessions can be created once it has settled.
const base64 = require('./wasm-bytes')
const C = require('./constants')

function decodeBase64 (text) {
  if (typeof Buffer === 'function') return Buffer.from(text, 'base64')
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text)
  const bin = atob(text)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i) // once, at load
  return bytes
}

// The core, once loaded: its exports and views on its memory. Views are
// rebuilt when the memory grows (the core tells us through its only
// import), since growth detaches the old ones.
const core = {
  loaded: false,
  exports: null,
  memory: null,
  u8: null,
  i32: null,
  buf: null, // a Buffer over the same memory in Node (fast UTF-8), else null
  scratch: 0 // 64 bytes: [0] out-parameter, [16..48) a ps_event
}

const hasBuffer = typeof Buffer === 'function' && typeof Buffer.from === 'function'

function refreshViews () {
  core.u8 = new Uint8Array(core.memory.buffer)
  core.i32 = new Int32Array(core.memory.buffer)
  if (hasBuffer) core.buf = Buffer.from(core.memory.buffer)
}

function start (instance) {
  core.exports = instance.exports
  core.memory = instance.exports.memory
  refreshViews()
  instance.exports._initialize()
  core.scratch = instance.exports.psw_malloc(64)
  core.loaded = true
  return core
}

// The core's allocator grows the memory by what each allocation lacks, a
// page or so at a time, and every growth detaches the views and tends to
// cost a garbage collection: a burst of allocations (many connections, each
// with a frame arriving) paid that for each. The memory is grown ahead by an
// eighth of its size (at least 1 MiB, up to its maximum) instead, which
// takes a few dozen growths up to 2 GiB; pages never touched cost no RAM.
const WASM_PAGE = 65536
function grown () {
  const size = core.memory.buffer.byteLength
  const pages = Math.max(1 << 20, size >>> 3) / WASM_PAGE
  try {
    core.memory.grow(pages)
  } catch (err) {} // near the maximum: what the core asked for is there
  refreshViews()
}

const imports = { env: { emscripten_notify_memory_growth: grown } }
const bytes = decodeBase64(base64)
let loadError = null
try {
  start(new WebAssembly.Instance(new WebAssembly.Module(bytes), imports))
} catch (err) {
  loadError = err
}

// Settles once the core can be used; rejects if it cannot be loaded at all.
const ready = core.loaded
  ? Promise.resolve()
  : WebAssembly.instantiate(bytes, imports).then(({ instance }) => { start(instance) }, (err) => {
    // a page's Content-Security-Policy refuses WebAssembly without it
    const e = new Error(`packet-stream-wasm: the WebAssembly core cannot be loaded: ${err.message} ` +
      "(under a Content-Security-Policy, script-src needs 'wasm-unsafe-eval')")
    e.cause = err
    loadError = e
    throw e
  })
ready.catch(() => {}) // reported through `ready` and by `need()`

// The core, or a clear error when it is not there yet.
function need () {
  if (core.loaded) return core
  const err = new Error('packet-stream-wasm: the WebAssembly core is not loaded yet; ' +
    'await packets.ready first' + (loadError ? ` (synchronous load failed: ${loadError.message})` : ''))
  throw err
}

// Reads a NUL-terminated string from the core's memory.
function cString (ptr) {
  let end = ptr
  while (core.u8[end] !== 0) end++
  return new TextDecoder().decode(core.u8.subarray(ptr, end))
}

// An Error for a core error code, with the code attached; |detail| follows
// the code's message (given here, not added after: the stack's first line
// is the message the Error was made with).
function coreError (code, detail) {
  const message = C.messages[code] || `packet-stream core error ${code}`
  const err = new Error(detail ? `${message}: ${detail}` : message)
  err.code = code
  return err
}

// opts.limits[name] as the core takes it, or the core's default.
const LIMIT_DEFAULTS = {
  maxFrame: C.defaults.DEFAULT_MAX_FRAME,
  maxRequests: C.defaults.DEFAULT_MAX_REQUESTS,
  maxStreams: C.defaults.DEFAULT_MAX_STREAMS,
  maxOutbuf: C.defaults.DEFAULT_MAX_OUTBUF
}
// The largest value of each: byte counts must fit an int32 with a header;
// requests and substreams share the core's slot numbers (see limitsOf).
const LIMIT_MAX = {
  maxFrame: C.defaults.MAX_BYTES,
  maxRequests: Math.floor(C.defaults.MAX_SLOTS / 2) - 1,
  maxStreams: Math.floor(C.defaults.MAX_SLOTS / 2) - 1,
  maxOutbuf: C.defaults.MAX_BYTES
}
function limitOf (limits, name) {
  const v = limits && limits[name]
  if (v === undefined) return LIMIT_DEFAULTS[name]
  if (!Number.isInteger(v) || v < 1 || v > LIMIT_MAX[name]) {
    throw new RangeError(`packet-stream-wasm: limits.${name} must be an integer from 1 to ${LIMIT_MAX[name]}, not ${String(v)}`)
  }
  return v
}

module.exports = { core, need, ready, cString, coreError, limitOf, C }
