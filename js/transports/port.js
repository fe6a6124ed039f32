'use strict'
// connectPort(port, opts): a packet stream over postMessage: a Worker, a
// MessagePort, a worker's own global (`self`), or Node's worker_threads
// (Worker, parentPort, MessagePort). Frames of one event-loop turn leave in
// few postMessages, each carrying one ArrayBuffer, transferred, not copied:
// a turn that frames under FIRST_PIECE bytes in one, a larger one in pieces
// (the first as soon as FIRST_PIECE bytes are framed, each next one at a
// quarter of what the turn has handed over, at least FIRST_PIECE). Two
// threads then work at once: the peer answers the first calls while the
// rest are framed here, where one message a turn makes them take turns,
// each waking the other. Measured between worker_threads, 64 calls in
// flight, against one postMessage per call: one message a turn 1.5x,
// pieces that double 2.1x, these 2.2-2.5x, pieces of FIRST_PIECE bytes
// throughout 2.5-2.7x; but those send a substream's burst of small packets
// at half the rate of pieces that double (1 KiB ones at a fifth), these
// at 0.9x. Where only one thread can run at a time (one CPU, or a process
// bound to one) pieces only add messages (0.75x one message a turn, both
// threads bound to one CPU by taskset): a turn leaves as one message there.
// A port whose postMessage delivers at once (a wrapper, not a platform's)
// delivers from inside the call that framed a turn's first piece: the
// session allows that, as packet-stream allows synchronous wiring.
//
// Ends: a graceful close sends the goodbye, which ends the other side's
// session too; so does a session destroyed here, since a port cannot be
// seen to close (the peer's pending requests hear "unexpected end of parent
// stream"). A Node Worker's 'exit', a Node MessagePort's 'close', a browser
// Worker terminated through its terminate() or failing to load, and a
// close() of a MessagePort or of a worker's own global destroy the session
// with an error, and so does a Node Worker that had exited when it was
// connected; other ends are seen only through the peer's goodbye (a
// MessagePort that was closed before it was connected gives no sign, nor
// does a browser port whose other end went with a terminated worker:
// requests on them wait). What a Node worker framed in the turn it calls
// process.exit() still leaves.
//
// Binary messages (an ArrayBuffer, a typed array) on the port are the
// session's; other messages are someone else's and are left alone. One
// session at a time per port.
const { createWire, transportError, alsoEnds, claim } = require('./wire')
const { later } = require('../util')

const FIRST_PIECE = 256

// How many threads of this process can run at once: navigator's figure in
// browsers (and Node 21 and later), the CPUs this process may use in Node
// (process.getBuiltinModule: Node 20.16 and later); where neither is known,
// two.
let parallelism = 0
function threadsAtOnce () {
  if (parallelism > 0) return parallelism
  const nav = typeof navigator === 'object' && navigator !== null ? navigator.hardwareConcurrency : undefined
  const getBuiltin = typeof process === 'object' && process !== null ? process.getBuiltinModule : undefined
  if (typeof nav === 'number' && nav > 0) parallelism = nav
  else if (typeof getBuiltin === 'function') {
    const os = getBuiltin('node:os')
    parallelism = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  }
  parallelism = parallelism > 0 ? parallelism : 2
  return parallelism
}

// Sessions whose frames must leave if the (worker's) process exits in the
// turn that framed them: one 'exit' listener for all.
// (The listener is made out here: one made in flushAtExit would keep the
// first session's closure, and all it refers to, alive for good.)
const atExit = new Set()
let exitListening = false
function flushAll () {
  for (const flush of atExit) flush()
}
function flushAtExit (wire) {
  if (typeof process !== 'object' || process === null || typeof process.on !== 'function') return () => {}
  if (!exitListening) {
    exitListening = true
    process.on('exit', flushAll)
  }
  atExit.add(wire.flush)
  return () => atExit.delete(wire.flush)
}

function on (port, type, fn) {
  if (typeof port.on === 'function') { // Node: EventEmitter-style, the value itself
    port.on(type, fn)
    return () => port.removeListener(type, fn)
  }
  const listener = type === 'message' ? (ev) => fn(ev.data) : fn
  port.addEventListener(type, listener)
  return () => port.removeEventListener(type, listener)
}

function connectPort (port, opts) {
  // a window has postMessage too, but posts to itself (its second argument
  // is not a transfer list there): a page talks to a worker through the
  // Worker or a MessagePort
  if (typeof Window === 'function' && port instanceof Window) {
    throw new TypeError('packet-stream-wasm: connectPort needs a Worker, a MessagePort or a worker\'s global, not a window (in a page, connect the Worker or a MessageChannel port)')
  }
  const unlisten = []
  const wire = createWire(opts, {
    release: claim(port, 'connectPort needs a Worker, a MessagePort or a worker\'s global (postMessage, and on or addEventListener)', ['postMessage', 'on|addEventListener']),
    send (bytes) {
      const buffer = bytes.buffer // bytes own it whole: see Framer.take
      port.postMessage(buffer, [buffer])
      return true
    },
    closeIsSilent: true,
    firstPiece: threadsAtOnce() > 1 ? FIRST_PIECE : undefined,
    close () {
      for (const off of unlisten) off()
    }
  })

  unlisten.push(on(port, 'message', (data) => {
    if (data instanceof ArrayBuffer) wire.receive(new Uint8Array(data))
    else if (ArrayBuffer.isView(data)) wire.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    // anything else is someone else's message on a shared port
  }))
  unlisten.push(on(port, 'messageerror', () => {
    wire.receiveEnd(transportError(null, 'message could not be deserialized'))
  }))
  unlisten.push(on(port, 'close', () => wire.receiveEnd(transportError(null, 'port closed'))))
  if (typeof port.on === 'function' && typeof port.terminate === 'function') { // Node Worker
    unlisten.push(on(port, 'exit', (code) => wire.receiveEnd(transportError(null, `worker exited (code ${code})`))))
    unlisten.push(on(port, 'error', (err) => wire.receiveEnd(transportError(err, `worker failed: ${err && err.message}`))))
    // one that has exited already fires no 'exit' any more (its threadId
    // is -1 then): the session fails once the caller has had the turn to
    // use it, as it would have
    if (port.threadId === -1) later(() => wire.receiveEnd(transportError(null, 'worker had exited')))
  } else if (typeof port.terminate === 'function') { // browser Worker: no event tells of terminate()
    unlisten.push(alsoEnds(port, 'terminate', false, () => wire.receiveEnd(transportError(null, 'worker terminated'))))
    // a script that fails to load or parse fires a plain Event and the
    // worker is gone; an uncaught error at run time is an ErrorEvent, and
    // the worker goes on serving
    unlisten.push(on(port, 'error', (ev) => {
      if (typeof ErrorEvent === 'function' && ev instanceof ErrorEvent) return
      wire.receiveEnd(transportError(null, 'worker failed to start'))
    }))
  } else if (typeof port.close === 'function') {
    // a MessagePort, or a worker's own global: its close() ends the session
    // first, so that its goodbye (and what waits framed) still leaves; no
    // event would: browsers fire no 'close' on MessagePort, and Node's comes
    // after the port has closed, as the only sign the other side gets of a
    // parentPort closed by a worker that goes on
    unlisten.push(alsoEnds(port, 'close', true, () => wire.receiveEnd(transportError(null, 'port closed'))))
  }
  unlisten.push(flushAtExit(wire))
  if (typeof port.start === 'function' && typeof port.on !== 'function') port.start() // a MessagePort with addEventListener
  return wire.ps
}

module.exports = connectPort
