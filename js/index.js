'use strict'
// packet-stream-wasm: a drop-in for packet-stream@2.0.6 whose state machine
// runs in a C core compiled to WebAssembly.
//
//   const packets = require('packet-stream-wasm')
//   const ps = packets({ message, request, stream, close })
const PacketStream = require('./packet-stream')
const { ready, C } = require('./wasm')
const { debug } = require('./util')

function packets (opts) {
  return new PacketStream(opts)
}

// Settles once the core is loaded (at once, unless the platform refused a
// synchronous WebAssembly compile).
packets.ready = ready.then(() => packets)
packets.PacketStream = PacketStream
packets.codec = require('./codec')
packets.connectStream = require('./transports/stream')
packets.connectWebSocket = require('./transports/websocket')
packets.connectPort = require('./transports/port')
// The numbers in err.code of the core's errors, by name (ERR_FRAME_TOO_LARGE, ...)
packets.errors = Object.freeze({ ...C.errors })
Object.defineProperty(packets, 'debug', {
  get: () => debug.enabled,
  set: (on) => { debug.enabled = !!on },
  enumerable: true,
  configurable: true // the ES module entries mirror it in their named export
})

module.exports = packets
