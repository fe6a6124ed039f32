'use strict'
// Small helpers shared by the session and its substreams.

// Any value as text, even one that refuses to be turned into a string (an
// object without a prototype, a throwing toString).
function text (value) {
  try {
    return String(value)
  } catch (e) {
    return Object.prototype.toString.call(value)
  }
}

// An error value as it travels in-band: packet-stream's flattening.
function flat (err) {
  if (!err) return err
  if (err === true) return true
  return { message: err.message, name: err.name, stack: err.stack }
}

// An error that came in-band (an error response, a substream's error end)
// as a thrown value: an Error with the peer's name, and its stack kept apart
// (it describes the other side).
function toError (err) {
  if (err instanceof Error) return err
  const message = err && typeof err === 'object' ? err.message : text(err)
  const e = new Error(typeof message === 'string' ? message : 'packet-stream-wasm: the peer sent an error without a message')
  if (err && typeof err === 'object') {
    if (err.name) e.name = err.name
    if (err.stack) e.remoteStack = err.stack
    e.value = err
  }
  return e
}

// What pending requests and open substreams hear when the session ends
// without a reason (packet-stream 2.0.6's words).
const parentEnded = () => new Error('unexpected end of parent stream')

// Marks an error that refused one outgoing packet before anything of it was
// framed (its value cannot be encoded, or is over maxFrame): the session
// goes on, and the caller hears it.
const REFUSED = Symbol('packet-stream-wasm: packet refused')
const isRefusal = (err) => !!err && err[REFUSED] === true

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

// Runs |fn| once the current turn of the event loop is over (after its
// microtasks and, in Node, its I/O callbacks), so that what a turn produces
// can leave together: setImmediate in Node, a MessageChannel task in
// browsers and workers (setTimeout would be clamped), setTimeout otherwise.
const later = (() => {
  if (typeof setImmediate === 'function') return (fn) => { setImmediate(fn) }
  if (typeof MessageChannel === 'function') {
    const queue = []
    const channel = new MessageChannel()
    channel.port1.onmessage = () => {
      const fns = queue.splice(0)
      for (const fn of fns) fn()
    }
    return (fn) => {
      if (queue.push(fn) === 1) channel.port2.postMessage(null)
    }
  }
  return (fn) => { setTimeout(fn, 0) }
})()

// Reports an error that has no caller to go to (a handler that threw while
// a transport handed over its input) without throwing it: reportError where
// there is one (browsers, workers), a process warning in Node.
function report (err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err)
  else if (typeof process === 'object' && typeof process.emitWarning === 'function') {
    process.emitWarning(err instanceof Error ? err : text(err))
  } else console.error(err)
}

// Calls that must all happen even when one throws: run() each; the first
// throw is kept for the caller (rethrow(), once all are done), later ones
// are reported.
function firstThrowLater () {
  let threw = false
  let thrown = null
  return {
    run (fn, arg) {
      try {
        fn(arg)
      } catch (e) {
        if (threw) report(e)
        else {
          threw = true
          thrown = e
        }
      }
    },
    rethrow () {
      if (threw) throw thrown
    }
  }
}

// A transport's numeric option: a number from 0 up (Infinity included), or
// |fallback| when absent.
function amountOption (opts, name, fallback, unit) {
  const value = opts && opts[name] !== undefined ? opts[name] : fallback
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new RangeError(`packet-stream-wasm: ${name} must be a number of ${unit} from 0 up, not ${text(value)}`)
  }
  return value
}

module.exports = { flat, toError, closedread, debug, later, report, firstThrowLater, REFUSED, isRefusal, amountOption, text, parentEnded }
