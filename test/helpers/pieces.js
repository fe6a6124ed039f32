'use strict'
// How a port hands over one turn's frames (js/transports/port.js and
// wire.js): the first piece as soon as FIRST_PIECE bytes wait framed, each
// next one at a quarter of what the turn has handed over so far (at least
// FIRST_PIECE, at most |cap|), the rest at the end of the turn; where only
// one thread can run at a time, all in one. Returns the byte length of each
// postMessage for frames of |sizes|.
const os = require('node:os')
const FIRST_PIECE = 256
// as js/transports/port.js tells (Node before 20.16 cannot: two)
const ONE_CPU = typeof process.getBuiltinModule === 'function' && (os.availableParallelism ? os.availableParallelism() : os.cpus().length) === 1

function pieces (sizes, cap = 1 << 20) {
  if (ONE_CPU) return [sizes.reduce((a, b) => a + b, 0)]
  const out = []
  let pending = 0
  let at = FIRST_PIECE
  let handed = 0
  for (const size of sizes) {
    pending += size
    if (pending >= at) {
      out.push(pending)
      handed += pending
      pending = 0
      at = Math.min(Math.max(FIRST_PIECE, Math.floor(handed / 4)), cap)
    }
  }
  if (pending > 0) out.push(pending)
  return out
}

// The frame of a packet whose body is the JSON of |value|: the 9-byte
// header and the body.
const jsonFrame = (value) => 9 + Buffer.byteLength(JSON.stringify(value))

module.exports = { FIRST_PIECE, pieces, jsonFrame }
