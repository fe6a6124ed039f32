'use strict'
// connectWebSocket(socket, opts): a packet stream over a WebSocket, a
// browser's or a Node `ws` one, client or server side, before or after it
// opened. Frames of one event-loop turn leave as one binary message; the
// core reassembles frames that span messages.
const { createWire, isProtocolError, transportError, alsoEnds, claim } = require('./wire')
const { later, amountOption, text } = require('../util')

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3
const CLOSE_NORMAL = 1000
// A close frame without a status (a peer's close() with no code) is
// reported as this; it is a normal end too.
const CLOSE_NO_STATUS = 1005
// Browsers accept only 1000 and 3000-4999 from scripts.
const CLOSE_ERROR = 4000
const CLOSE_PROTOCOL_ERROR = 4002
const DEFAULT_HIGH_WATER = 1 << 20
const DRAIN_POLL_MS = 5
// A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455 5.5): a
// longer one makes close() throw, in ws and in browsers alike.
const MAX_REASON_BYTES = 123

// |message| cut to what fits in a close frame, at a character's boundary.
function closeReason (message) {
  let bytes = 0
  let end = 0
  for (const ch of String(message)) {
    const cp = ch.codePointAt(0)
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4 // a lone surrogate leaves as U+FFFD: 3
    if (bytes > MAX_REASON_BYTES) break
    end += ch.length
  }
  return String(message).slice(0, end)
}

function listen (socket, type, fn) {
  socket.addEventListener(type, fn)
  return () => socket.removeEventListener(type, fn)
}

// opts: packet-stream's opts, limits, and highWaterMark (bytes the socket
// may buffer before ps.writable turns false; default 1 MiB).
function connectWebSocket (socket, opts) {
  opts = opts || {}
  const highWater = amountOption(opts, 'highWaterMark', DEFAULT_HIGH_WATER, 'bytes')
  let queued = [] // bytes framed before the socket opened
  let queuedBytes = 0 // their size: back pressure counts them as buffered
  let closed = false
  let closedByCaller = false // the caller's socket.close() ends the session
  let pollTimer = null
  const unlisten = []

  function watchDrain () {
    if (pollTimer !== null) return
    // WebSocket has no drain event: look again until the buffer has gone down
    const check = () => {
      pollTimer = null
      if (closed) return
      if (socket.bufferedAmount <= highWater / 2) wire.drained()
      else pollTimer = setTimeout(check, DRAIN_POLL_MS)
    }
    pollTimer = setTimeout(check, DRAIN_POLL_MS)
  }

  const wire = createWire(opts, {
    // the caller's own close() ends the session before the socket closes:
    // the goodbye goes first, also when what was open ends with an error
    get closeIsSilent () { return closedByCaller },
    release: claim(socket, 'connectWebSocket needs a WebSocket (a browser\'s, or one of the ws package)', ['send', 'close', 'addEventListener']),
    flushAt: highWater,
    send (bytes) {
      if (socket.readyState === CONNECTING) {
        queued.push(bytes)
        queuedBytes += bytes.length
        return queuedBytes <= highWater
      }
      if (socket.readyState !== OPEN) return true // closing: its close event ends the session
      socket.send(bytes)
      if (socket.bufferedAmount > highWater) {
        watchDrain()
        return false
      }
      return true
    },
    close (err, destroyed) {
      if (closed) return
      closed = true
      stop()
      if (closedByCaller) return // the caller's close() goes on to close it
      if (socket.readyState === CONNECTING && !destroyed) {
        // the goodbye goes out once it opens, then the socket closes
        socket.addEventListener('open', () => {
          for (const bytes of queued) socket.send(bytes)
          queued = []
          closeSocket(null)
        })
      } else if (socket.readyState === CONNECTING) {
        // destroyed before it opened (with or without a reason): what was
        // framed has been failed already, so none of it may reach the peer
        queued = []
        queuedBytes = 0
        closeSocket(err)
      } else if (socket.readyState === OPEN) {
        closeSocket(err)
      }
    }
  })

  socket.binaryType = 'arraybuffer'

  function closeSocket (err) {
    if (!err) socket.close(CLOSE_NORMAL)
    else socket.close(isProtocolError(err) ? CLOSE_PROTOCOL_ERROR : CLOSE_ERROR, closeReason(err && typeof err.message === 'string' ? err.message : text(err)))
  }

  // The 'error' listener stays: a socket that fails after the session has
  // ended (a peer's invalid frame, a refused connection) must not become an
  // unhandled 'error' of a Node ws socket, which would take the process down.
  function stop () {
    for (const off of unlisten) off()
    if (pollTimer !== null) clearTimeout(pollTimer)
  }

  // A normal close between frames is the end of the transport; anything
  // else is a failure the session reports.
  function closedWith (code, reason) {
    if (code === CLOSE_NORMAL || code === CLOSE_NO_STATUS) return wire.receiveEnd(null)
    const why = reason === undefined || reason === null ? '' : String(reason) // ws gives a Buffer
    wire.receiveEnd(transportError(null, `websocket closed (${code}${why ? ' ' + why : ''})`))
  }

  // The caller's socket.close() ends the session at once: the closing
  // handshake waits for a peer that may have stopped reading (a browser
  // then waits for minutes), and what is pending must not wait with it. A
  // normal close ends it first, so that the goodbye leaves; any other code
  // once the call is over: a code the socket refuses throws and leaves the
  // socket and the session as they were, and ws's own close() on a failure
  // (a message over its maxPayload) is followed at once by the 'error' that
  // says why, which then ends the session with its cause.
  unlisten.push(alsoEnds(socket, 'close', true, (code = CLOSE_NORMAL, reason) => {
    // (1005 is only ever reported: a close() with it throws, as with any
    // code the socket refuses; ws's own close() for a received 1005 gives
    // no code, which is 1000 here)
    if (code === CLOSE_NORMAL) {
      closedByCaller = true
      closedWith(code, reason)
      closedByCaller = false
    } else {
      queueMicrotask(() => {
        if (socket.readyState === CLOSING || socket.readyState === CLOSED) closedWith(code, reason)
      })
    }
  }))

  unlisten.push(listen(socket, 'open', () => {
    const pending = queued
    queued = []
    queuedBytes = 0
    for (const bytes of pending) socket.send(bytes)
    // what waited for the open may have held the session back
    if (socket.bufferedAmount > highWater) watchDrain()
    else wire.drained()
  }))
  unlisten.push(listen(socket, 'message', (ev) => {
    const data = ev.data
    if (data instanceof ArrayBuffer) wire.receive(new Uint8Array(data))
    else if (ArrayBuffer.isView(data)) wire.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    else wire.receiveEnd(transportError(null, 'text message on a binary packet stream'))
  }))
  unlisten.push(listen(socket, 'close', (ev) => closedWith(ev.code, ev.reason)))
  listen(socket, 'error', (ev) => {
    // Node's ws gives the cause (ECONNREFUSED...); browsers tell nothing
    const cause = ev && ev.error
    wire.receiveEnd(transportError(cause, cause && cause.message ? `websocket error: ${cause.message}` : 'websocket error'))
  })
  // a socket that has closed already fires no close event any more
  if (socket.readyState === CLOSED) later(() => wire.receiveEnd(transportError(null, 'websocket already closed')))
  return wire.ps
}

module.exports = connectWebSocket
