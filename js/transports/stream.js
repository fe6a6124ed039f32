'use strict'
// connectStream(duplex, opts): a packet stream speaking the wire format of
// packet-stream-codec over a Node byte stream: a net.Socket, a
// tls.TLSSocket, any Duplex, or { readable, writable } (a child process's
// stdout and stdin).
const { createWire, isProtocolError, transportError, claim, checkMethods } = require('./wire')
const { later, amountOption } = require('../util')

// How long after the session's end the stream may go without progress
// (nothing more of what was framed written, the peer not ending its side)
// before it is destroyed: a peer that keeps its side open, or stops
// reading, must not hold the stream (a socket's file handle) for good,
// and one that reads slowly must still get everything.
const DEFAULT_CLOSE_TIMEOUT = 30000
const MAX_TIMER = 0x7fffffff

// opts: packet-stream's opts, limits, and closeTimeout (ms, see above;
// Infinity never destroys).
function connectStream (duplex, opts) {
  const pair = !!duplex && typeof duplex.readable === 'object' && duplex.readable !== null
  const input = pair ? duplex.readable : duplex
  const output = pair ? duplex.writable : duplex
  const closeTimeout = amountOption(opts, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT, 'milliseconds')
  const needs = 'connectStream needs a Duplex stream, or { readable, writable }'
  // its writable may be another session's readable (an in-memory pair)
  if (pair) checkMethods(output, needs + ' whose writable is a stream', ['write', 'end', 'on', 'removeListener', 'destroy'])
  let closed = false

  const wire = createWire(opts, {
    release: claim(input, needs, pair ? ['on', 'removeListener', 'destroy'] : ['on', 'removeListener', 'write', 'end', 'destroy']),
    send: (bytes) => output.write(bytes),
    close (err) {
      if (closed) return
      closed = true
      cleanup()
      // a peer that broke the protocol is cut off; otherwise what was
      // framed is written before the end
      if (isProtocolError(err)) {
        destroyStreams()
      } else {
        output.end()
        if (closeTimeout !== Infinity) untilClosed()
      }
    }
  })

  function destroyStreams () {
    input.destroy()
    if (output !== input) output.destroy()
  }

  function untilClosed () {
    const isOver = (s) => s.destroyed || s.closed
    if (isOver(input) && isOver(output)) return
    // what is left to write: in the stream, and (a socket) what libuv has
    // yet to hand to the kernel, since one large write or writev counts as
    // written in the stream only once it all is; either going down is
    // progress
    const progress = () => [output.writableLength, output._handle ? output._handle.writeQueueSize : 0]
    let last = progress()
    let timer = null
    const wait = () => {
      // timers take at most 2^31 - 1 ms (24.8 days); beyond, they fire at once
      timer = setTimeout(check, Math.min(closeTimeout, MAX_TIMER))
      if (typeof timer.unref === 'function') timer.unref()
    }
    const check = () => {
      const now = progress()
      const moved = now[0] < last[0] || now[1] < last[1]
      last = now
      if (moved) wait()
      else destroyStreams()
    }
    wait()
    let open = output === input ? 1 : 2
    const onclosed = () => { if (--open === 0) clearTimeout(timer) }
    input.once('close', onclosed)
    if (output !== input) output.once('close', onclosed)
  }

  const ondata = (chunk) => wire.receive(chunk)
  const onend = () => wire.receiveEnd(null)
  const onerror = (err) => wire.receiveEnd(transportError(err))
  const onclose = () => wire.receiveEnd(transportError(null, 'stream closed'))
  const ondrain = () => wire.drained()

  function cleanup () {
    input.removeListener('data', ondata)
    input.removeListener('end', onend)
    input.removeListener('close', onclose)
    if (output !== input) output.removeListener('close', onclose)
    output.removeListener('drain', ondrain)
    // errors after the end are still caught, so that they do not crash
  }

  input.on('data', ondata)
  input.on('end', onend)
  input.on('error', onerror)
  input.on('close', onclose)
  output.on('drain', ondrain)
  if (output !== input) {
    output.on('error', onerror)
    // a writable destroyed without an error (stdin of a child that was
    // killed, a local destroy()) says so only by closing
    output.on('close', onclose)
  }
  // A stream that is already over fires none of those again: the session
  // ends once the caller has had the turn to use it, as it would have.
  if (input.readableEnded) later(() => wire.receiveEnd(null)) // it ended, then maybe closed
  else if (input.destroyed || output.destroyed || output.writableEnded) {
    later(() => wire.receiveEnd(transportError(null, 'stream already closed')))
  }
  return wire.ps
}

module.exports = connectStream
