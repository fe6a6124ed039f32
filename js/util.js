'use strict'
// Small helpers shared by the session and its substreams.

// An error value as it travels in-band: packet-stream's flattening.
function flat (err) {
  if (!err) return err
  if (err === true) return true
  return { message: err.message, name: err.name, stack: err.stack }
}

const debug = {
  // Log what packet-stream 2.0.6 logs after a session has closed, and more:
  // set PACKET_STREAM_DEBUG=1, or assign packets.debug = true.
  enabled: typeof process === 'object' && !!(process.env && process.env.PACKET_STREAM_DEBUG)
}

// The read of a closed session: packets the user sends after the end are
// dropped, quietly unless debugging.
function closedread (msg) {
  if (debug.enabled) console.error('packet-stream asked to read after closed', msg)
}

module.exports = { flat, closedread, debug }
