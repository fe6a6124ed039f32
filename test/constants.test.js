'use strict'
// js/constants.js is generated from c/ps_constants.h; check it against what
// the compiled wasm module actually does.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const C = require('../js/constants')

function instantiate () {
  const bytes = fs.readFileSync(path.join(__dirname, '..', 'build', 'ps.wasm'))
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { emscripten_notify_memory_growth () {} }
  })
  exports._initialize()
  return exports
}

test('every error message in js/constants.js is the one ps_strerror returns', () => {
  const w = instantiate()
  const cString = (ptr) => {
    const mem = new Uint8Array(w.memory.buffer)
    let end = ptr
    while (mem[end]) end++
    return Buffer.from(mem.subarray(ptr, end)).toString()
  }
  for (const [name, code] of Object.entries(C.errors)) {
    assert.equal(cString(w.ps_strerror(code)), C.messages[code], name)
  }
  assert.equal(cString(w.ps_strerror(-1)), 'unknown error')
})

test('event numbers, flags and the packed layout agree with the core', () => {
  const w = instantiate()
  const { events, packed, modes, flags } = C
  const s = w.psw_session_new(modes.MODE_PACKET, 0, 1024, 16, 16, 4096, 1)
  assert.ok(s > 0)
  const r1 = w.ps_session_recv_packet(s, 0, 0)
  assert.equal(r1 & packed.PACK_TYPE_MASK, events.MESSAGE)
  assert.equal(r1 >>> packed.PACK_SLOT_SHIFT, C.NO_SLOT)
  const r2 = w.ps_session_recv_packet(s, 3, flags.FLAG_STREAM)
  assert.equal(r2 & packed.PACK_TYPE_MASK, events.STREAM_DATA)
  assert.ok(r2 & packed.PACK_OPENED)
  const r3 = w.ps_session_recv_packet(s, 4, 0)
  assert.equal(r3 & packed.PACK_TYPE_MASK, events.REQUEST)
  assert.equal(w.psw_session_new(7, 0, 1, 1, 1, 1, 1), C.errors.ERR_INVALID_ARGUMENT)
  w.ps_session_del(s)
})

test('packets.errors: the error numbers by name, frozen, from require and import alike', async () => {
  const packets = require('..')
  assert.deepEqual({ ...packets.errors }, C.errors)
  assert.ok(Object.isFrozen(packets.errors))
  const esm = await import('../js/index.mjs')
  assert.equal(esm.errors, packets.errors)
  // what a refused value carries
  const { PassThrough } = require('node:stream')
  const ps = packets.connectStream(new PassThrough())
  assert.throws(() => ps.message(1n), (err) => err.code === packets.errors.ERR_INVALID_ARGUMENT)
  ps.destroy(true)
})
