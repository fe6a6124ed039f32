'use strict'
// A packet stream over a byte transport: the session of the drop-in API,
// whose packets the core's framer turns into bytes and back. Every transport
// (Node streams, WebSocket, postMessage) is this plus the calls of its own
// platform.
//
// What crosses the transport:
// - all frames produced in one turn of the event loop leave as one chunk
//   (up to FLUSH_BYTES; a turn that frames more hands it over as it goes;
//   a port hands a turn over in pieces, see firstPiece);
// - a graceful close of the session sends the goodbye, then the transport
//   is closed; a destroyed session closes it without one;
// - the peer's goodbye, or an end of the transport between frames, ends the
//   session as packet-stream's write(null, true) does (what is open hears
//   "unexpected end of parent stream"); an end in the middle of a frame, a
//   failing transport and a protocol error destroy it with their error;
// - a handler that throws while the transport hands something over (the
//   request, message or stream callbacks, a request's callback) destroys
//   the session with an error that says so: the rest of the input was not
//   decoded, so the session could not stay in step with its peer, and a
//   server's other connections must not go down with it. What is thrown is
//   reported too (reportError, or a process warning in Node).
const PacketStream = require('../packet-stream')
const Framer = require('../framer')
const { C, coreError } = require('../wasm')
const { later, report, REFUSED, text, toError, parentEnded } = require('../util')

const { GOODBYE } = Framer
// What one turn may frame before it is handed to the transport: its frames
// leave together up to this (or half of limits.maxOutbuf), in pieces beyond
// (a port's pieces are smaller, see firstPiece).
const FLUSH_BYTES = 1 << 20

// Errors of the peer's bytes: the transport is dropped, not ended politely.
function isProtocolError (err) {
  return !!err && typeof err.code === 'number' && err.code <= -900 && err.code !== C.errors.ERR_TRANSPORT
}

function handlerError (thrown) {
  const err = new Error(`packet-stream-wasm: a handler threw, the session is destroyed: ${thrown instanceof Error ? thrown.message : text(thrown)}`)
  err.cause = thrown
  return err
}

function transportError (err, what) {
  const e = coreError(C.errors.ERR_TRANSPORT, what || (err && err.message) || 'closed')
  if (err) e.cause = err
  return e
}

// opts: packet-stream's opts plus limits; transport: { send(bytes) ->
// false when backed up, close(err, destroyed), release (what claim()
// returned: called once the session has ended, or when it cannot be made),
// closeIsSilent, flushAt, firstPiece }: a
// transport whose close the peer cannot see (a port) sends the goodbye on
// every end but the peer's own, so that the peer's session ends too (and a
// goodbye in reply does not reach whoever listens next); flushAt (bytes)
// hands a turn's frames over in smaller pieces, for a transport whose
// high-water mark is lower; firstPiece (bytes) hands over the first piece
// of a turn as soon as that much is framed, and each next one at a quarter
// of what the turn has handed over so far (at least firstPiece), for a
// transport whose messages cost little and whose peer runs in parallel (a
// port): the peer starts on the first calls while the rest are framed,
// instead of the two sides taking turns, and a turn that frames much still
// leaves in few messages (about 35 for a MiB). Returns { ps,
// receive(bytes), receiveEnd(err), drained(), flush() }; none of them
// throws.
function createWire (opts, transport) {
  opts = opts || {}
  let ps, framer
  try {
    ps = new PacketStream(opts)
    framer = new Framer(opts.limits)
  } catch (err) {
    if (ps) {
      ps.read = () => {} // nothing was sent: there is nothing to end
      ps.destroy(true)
    }
    transport.release()
    if (err.code === C.errors.ERR_NOMEM) throw coreError(C.errors.ERR_NOMEM, 'the WebAssembly memory that all sessions share is full (see limits)')
    throw err
  }
  let scheduled = false
  let finished = false // the session has ended: the transport is closed
  let writable = true
  let drainWaiters = [] // { resolve, reject } of each drained() waiting
  let endError = null // what drained() rejects with once the session ended
  let peerEnded = false // the peer's goodbye came
  // The error that ends the session when nothing more can reach the peer
  // (it does not read, its bytes were not packet-stream, the transport
  // failed): what the session still frames is dropped meanwhile, and no
  // more of the peer's input is handled.
  let doomed = null
  const flushAt = Math.max(1, Math.min(FLUSH_BYTES, framer.maxOutbuf >>> 1, transport.flushAt === undefined ? Infinity : transport.flushAt))
  // Pieces of a turn's frames (see transport.firstPiece): the first at
  // firstPiece bytes, then at a quarter of what the turn has handed over,
  // up to flushAt.
  const firstPiece = Math.max(1, Math.min(flushAt, transport.firstPiece === undefined ? Infinity : transport.firstPiece))
  let pieceAt = firstPiece // what the turn's next piece leaves at
  let turnBytes = 0 // what the turn has handed over in pieces

  // While the transport is backed up, what is framed waits in the framer,
  // so that limits.maxOutbuf bounds it (a peer that does not read ends with
  // ERR_OUTBUF_LIMIT); |force| hands it over anyway (the end). Returns how
  // many bytes were handed over.
  function flush (force) {
    if (!writable && !force) return 0
    const bytes = framer.take()
    if (!bytes) return 0
    const length = bytes.length // a port transfers the buffer: it reads 0 after
    if (transport.send(bytes) === false) writable = false
    return length
  }

  function flushLater () {
    scheduled = false
    pieceAt = firstPiece
    turnBytes = 0
    if (!finished) flush()
  }

  function finish (err) {
    if (finished) return
    finished = true
    endError = err ? toError(err) : parentEnded()
    try {
      if (transport.closeIsSilent ? !peerEnded : !err) framer.encode(GOODBYE)
      flush(true)
    } catch (e) {} // the transport is going anyway
    framer.free()
    // after the peer's goodbye the transport ends normally, even when what
    // was open here ended with "unexpected end of parent stream"; a session
    // destroyed here (ps.destroy(), with a reason or without) says so
    try {
      transport.close(peerEnded ? null : err || null, !peerEnded && ps.ended !== false)
    } finally {
      transport.release()
      // a writer waiting for room stops here: its writes would go nowhere
      // (a substream's write after the end is silent, as in 2.0.6)
      settleDrain('reject', endError)
    }
  }

  // Frames |msg|. What waits framed is handed over first when the frame
  // would not fit beside it and the transport takes it; a frame that does
  // not fit maxOutbuf on its own is refused as one over maxFrame is.
  function encode (msg) {
    for (;;) {
      try {
        return framer.encode(msg)
      } catch (err) {
        if (err.code !== C.errors.ERR_OUTBUF_LIMIT) throw err
        // it does not fit alone (measured only while backed up: measuring
        // runs a toJSON again)
        if (framer.pending === 0 || (!writable && Framer.frameBytes(msg) > framer.maxOutbuf)) {
          throw coreError(C.errors.ERR_FRAME_TOO_LARGE, `larger than limits.maxOutbuf (${framer.maxOutbuf} bytes)`)
        }
        if (!writable) throw err // backed up: the peer does not read
        // a transport that delivers at once may bring answers that are
        // framed meanwhile: hence the loop, each turn of it handing over all
        flush()
      }
    }
  }

  // The session's output: its packets, then its end.
  ps.read = (msg, end) => {
    if (finished) return
    if (end) return finish(end === true ? doomed : end)
    if (doomed) return
    try {
      encode(msg)
    } catch (err) {
      // A value that cannot be framed (not JSON-encodable, over maxFrame)
      // is refused: the call that sent it throws, and packet-stream.js
      // turns that into the request's error or an error response. An end
      // cannot be refused (the substream's state has moved on already): an
      // error too large to send goes as much of it as fits (sentFitted).
      // Output backed up past maxOutbuf means the session cannot go on: it
      // is destroyed, once the call it is in the middle of is done.
      const refusable = err.code === C.errors.ERR_INVALID_ARGUMENT || err.code === C.errors.ERR_FRAME_TOO_LARGE
      if (refusable && !msg.end) {
        err[REFUSED] = true
        throw err
      }
      if (!(refusable && sentFitted(msg))) {
        doom(err)
        return
      }
    }
    if (!scheduled) {
      scheduled = true
      later(flushLater)
    }
    // a turn that frames much hands it over as it goes, so that a producer
    // writing in a loop sees the transport's back pressure (ps.writable);
    // over a port, from its first piece on, so that the peer starts early
    if (framer.pending >= pieceAt) {
      turnBytes += flush()
      pieceAt = Math.min(Math.max(firstPiece, Math.floor(turnBytes / 4)), flushAt)
    }
  }

  // An end whose error is too large for a frame: the error without its
  // stack, then with its message cut, then an error with nothing in it (not
  // `true`, which is the normal end). False when none fits (maxFrame 0).
  function sentFitted (msg) {
    const value = msg.value
    const name = value && typeof value.name === 'string' ? value.name.slice(0, 64) : 'Error'
    const message = value && typeof value.message === 'string' ? value.message : text(value)
    // a character is at most 6 bytes of JSON (\u001f), and the rest of
    // the object is {"message":"","name":...}
    const room = Math.max(0, Math.floor((Math.min(framer.maxFrame, framer.maxOutbuf - C.HEADER_SIZE) - 24 - JSON.stringify(name).length) / 6))
    const fits = [{ message, name }, { message: message.slice(0, room), name }, {}, 1]
    for (const fitted of fits) {
      try {
        encode({ req: msg.req, stream: msg.stream, end: true, value: fitted })
        return true
      } catch (err) {}
    }
    return false
  }

  // Ends the session with |err| as soon as the call under way is done: at
  // once after the packet being handled (see onpacket), or a turn later.
  function doom (err) {
    if (doomed) return
    doomed = err
    later(() => {
      if (!finished) destroyWith(err)
    })
  }

  // A doomed session that is closed before the destroy was due ends with
  // the doom's error all the same: close's callback hears it, as every
  // pending callback does, and no goodbye says all went well.
  const close = ps.close
  ps.close = function (cb) {
    if (!doomed || finished || typeof cb !== 'function') return close.call(this, cb)
    this._closecbs.push(cb)
    destroyWith(doomed)
  }

  function onpacket (p) {
    if (!doomed) {
      if (p === GOODBYE) {
        peerEnded = true
        return ps.write(null, true)
      }
      ps.write(p)
    }
    // the packet that doomed the session is the last one handled
    if (doomed && !finished) destroyWith(doomed)
  }

  // Destroys the session with |err|, or goes on with a destroy under way.
  // Every callback that is pending hears it once even if one of them
  // throws: the throw is reported and the next one is called (each try
  // calls at least one callback that is then forgotten, hence the bound).
  function destroyWith (err) {
    for (let tries = ps._slots.length + ps._closecbs.length + 1; tries > 0 && !finished; tries--) {
      try {
        ps.destroy(ps.ended || err)
        break
      } catch (thrown) {
        report(thrown)
      }
    }
    if (!finished) finish(ps.ended === true ? null : ps.ended || err)
  }

  // What the transport calls: a throw of a handler ends the session here.
  function guard (fn) {
    return (arg) => {
      try {
        fn(arg)
      } catch (thrown) {
        report(thrown)
        if (!finished) destroyWith(handlerError(thrown))
      }
    }
  }

  // A chunk that is not bytes (a string from a stream with an encoding
  // set, an object-mode stream) cannot be turned back into the bytes the
  // peer sent: the session ends with an error that says what came.
  function receive (bytes) {
    if (finished) return
    if (!(bytes instanceof Uint8Array)) return destroyWith(Framer._notBytes(bytes, 'the transport must give'))
    const err = framer.decode(bytes, onpacket)
    if (err && !finished) {
      doomed = doomed || err
      destroyWith(err)
    }
  }

  // The transport ended (err null) or failed.
  function receiveEnd (err) {
    if (finished) return
    if (err || doomed) {
      doomed = doomed || err
      destroyWith(doomed)
    }
    else if (framer.midframe) destroyWith(coreError(C.errors.ERR_TRUNCATED))
    else ps.write(null, true)
    // a session that had already ended without closing its output
    if (!finished) finish(err || transportError(null, 'transport ended'))
  }

  // Settles every drained() waiting: |how| is 'resolve' or 'reject'.
  function settleDrain (how, value) {
    const waiters = drainWaiters
    drainWaiters = []
    for (const waiter of waiters) waiter[how](value)
  }

  // The transport has room again.
  function drained () {
    if (writable || finished) return
    writable = true
    flush()
    if (!writable) return // backed up again at once
    settleDrain('resolve')
    if (typeof ps.ondrain === 'function') ps.ondrain()
  }

  // Back pressure, for local producers: `ps.writable` is false while the
  // transport is backed up; `await ps.drained()` waits until it is not, and
  // throws once the session has ended (at once if it had), so that a
  // producer's loop stops rather than spin.
  Object.defineProperty(ps, 'writable', { get: () => writable && !finished, enumerable: true })
  ps.drained = () => {
    if (finished) return Promise.reject(endError)
    if (writable) return Promise.resolve()
    return new Promise((resolve, reject) => drainWaiters.push({ resolve, reject }))
  }
  ps.ondrain = null
  // Bytes framed and not yet handed to the transport.
  Object.defineProperty(ps, 'pendingBytes', { get: () => framer.pending })

  // Hands over what waits framed now (a worker about to exit).
  function flushNow () {
    if (!finished) flush()
  }

  return { ps, receive: guard(receive), receiveEnd: guard(receiveEnd), drained: guard(drained), flush: guard(flushNow) }
}

// Makes transport[name](...args) end the session too, with end(...args):
// before the call when |first| (so that the goodbye can still leave), else
// after it. For ends the platform fires no event for (a browser port's
// close(), a Worker's terminate(), the caller's own socket.close()).
// Returns what undoes it.
function alsoEnds (transport, name, first, end) {
  const method = transport[name]
  const own = Object.prototype.hasOwnProperty.call(transport, name)
  transport[name] = function (...args) {
    if (first) end(...args)
    const rv = method.apply(this, args)
    if (!first) end(...args)
    return rv
  }
  return () => {
    if (own) transport[name] = method
    else delete transport[name]
  }
}

// Transports a session is using: a second session on one would read the
// first one's frames (each numbers its requests from 1, so the answers of
// one would settle the other's), so it is refused until the first ends.
const inUse = new WeakSet()

// Checks that |transport| has the methods a session needs (each of
// |methods|: a name, or names joined by | of which one will do), naming
// what was expected.
function checkMethods (transport, what, methods) {
  const missing = transport === null || typeof transport !== 'object'
    ? methods
    : methods.filter((names) => !names.split('|').some((name) => typeof transport[name] === 'function'))
  if (missing.length > 0) {
    throw new TypeError(`packet-stream-wasm: ${what}, not ${transport === null ? 'null' : typeof transport === 'object' ? 'an object without ' + missing.join(', ') : typeof transport}`)
  }
}

// checkMethods, and that |transport| is not in use by another session;
// returns what frees it again.
function claim (transport, what, methods) {
  checkMethods(transport, what, methods)
  if (inUse.has(transport)) {
    throw new TypeError('packet-stream-wasm: this transport carries a session already; end it (close or destroy) before connecting another')
  }
  inUse.add(transport)
  return () => inUse.delete(transport)
}

module.exports = { createWire, isProtocolError, transportError, alsoEnds, claim, checkMethods }
