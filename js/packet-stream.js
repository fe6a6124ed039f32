'use strict'
// The packet-stream 2.0.6 API over the C core in packet mode.
//
// The core holds the protocol state: request numbers, the tables of open
// requests and substreams, each substream's ends, closing and closed. This
// side keeps what only JavaScript can hold, in an array indexed by the slot
// the core hands out (a request's callback, a substream object), and the
// values the user sees (`ended`, a substream's `readEnd`/`writeEnd`). Packet
// values never enter the core. Every step below follows the reference
// (index.js of packet-stream 2.0.6) in the order it calls back, because
// code written for it observes that order.
const { core, need, coreError, limitOf, C } = require('./wasm')
const Substream = require('./substream')
const { flat, toError, closedread, debug, isRefusal, report, firstThrowLater, text, parentEnded } = require('./util')

const EV = C.events
const TYPE_MASK = C.packed.PACK_TYPE_MASK
const SLOT_SHIFT = C.packed.PACK_SLOT_SHIFT
const OPENED = C.packed.PACK_OPENED
const RELEASED = C.packed.PACK_RELEASED
const IDLE = C.states.STATE_IDLE
const NO_SLOT = C.NO_SLOT
const LOGGED_DROPS = 100
const EV_TYPE = 0 // int32 offsets in ps_event
const EV_SLOT = 2

// A core session that is dropped without being closed is freed by the GC.
const orphans = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry((session) => core.exports.ps_session_del(session))
  : null

// Exports used on every packet, looked up once.
let w = null

function randomSeed () {
  const c = globalThis.crypto
  if (c && c.getRandomValues) return c.getRandomValues(new Uint32Array(1))[0]
  return (Math.random() * 0x100000000) >>> 0
}

// A request's callback as a promise. A session destroyed without a reason
// (destroy() with no argument, or a falsy one) calls back with no error, as
// packet-stream 2.0.6 does; the promise rejects all the same.
function promised (ps, obj) {
  return new Promise((resolve, reject) => {
    ps.request(obj, (err, value) => {
      if (err) reject(toError(err))
      else if (ps._destroyed) reject(parentEnded())
      else resolve(value)
    })
  })
}

// A handler may be an async function: packet-stream 2.0.6 ignores what
// handlers return, but a promise that rejects would go unhandled (and end
// a Node process). Its error goes where a peer hears it (|tell|, which
// says whether it could), or is reported. Callers hand over only a native
// promise (so that a handler returning nothing costs no closure): any
// other return value (a thenable of some library) is left alone, as there.
function caught (promise, tell) {
  promise.then(null, (reason) => {
    // a rejection without a reason must still be an error
    const err = reason || new Error(`packet-stream-wasm: a handler's promise rejected with ${text(reason)}`)
    try {
      if (!tell(err)) report(err)
    } catch (thrown) { // telling it threw (a throwing reader, say): nobody else would hear
      report(thrown)
    }
  })
}

const untold = () => false // a message has nobody to answer

class PacketStream {
  constructor (opts) {
    if (!w) w = need().exports
    this.ended = false
    this.opts = opts // must release, may capture `this`
    this._slots = [] // slot -> request callback or Substream; must release
    this._closecbs = [] // must release, may capture `this`
    this._closing = false // mirrors the core, to skip calls that would do nothing
    this._drops = 0 // packets dropped and logged (see _logDrop)
    this._destroyed = false // destroy() was called (ended may still be falsy)
    this._destroyingStream = false // destroy() is ending a substream: its reader runs
    this._closed = false
    if (opts.close) this._closecbs.push(opts.close)
    const limits = opts.limits
    const maxRequests = limitOf(limits, 'maxRequests')
    const maxStreams = limitOf(limits, 'maxStreams')
    // each direction of each has slots in the core, numbered in 23 bits
    if ((maxRequests + maxStreams) * 2 > C.defaults.MAX_SLOTS) {
      throw new RangeError(`packet-stream-wasm: limits.maxRequests + limits.maxStreams must be at most ${C.defaults.MAX_SLOTS / 2}, not ${maxRequests + maxStreams}`)
    }
    const session = w.psw_session_new(C.modes.MODE_PACKET, C.options.OPT_COMPAT,
      limitOf(limits, 'maxFrame'), maxRequests, maxStreams, limitOf(limits, 'maxOutbuf'), randomSeed())
    if (session < 0) throw coreError(session)
    // The peer's requests are counted here rather than given slots in the
    // core: nothing else about them is state (packet-stream 2.0.6 does not
    // wait for them on close), and sparing the two calls per request is
    // what brings requests to the reference's speed.
    this._peerRequests = 0
    this._maxPeerRequests = maxRequests
    this._core = session // 0 once closed and freed
    if (orphans) orphans.register(this, session, this)
    this._hot = null // the substream of the last data packet, see write
    // Accepts data from the other end. An own property, so that
    // `a.read = b.write` works without bind; small, so that it inlines.
    this.write = (msg, end) => {
      if (this.ended) return
      if (end) return void this.destroy(end)
      if (!msg.req) return this._onmessage(msg)
      this._onpacket(msg)
    }
  }

  // Bytes the C core holds for this session (its tables and buffers)
  get coreMemory () {
    return this._core ? w.ps_session_memory(this._core) : 0
  }

  // Sends a single message to the other end
  message (obj) {
    this.read({ req: 0, stream: false, end: false, value: obj })
  }

  // Sends a message to the other end, expects an (err, obj) response.
  // Without a callback, returns a promise of the response.
  request (obj, cb) {
    if (typeof cb !== 'function') return promised(this, obj)
    if (this._closing) return cb(new Error('parent stream is closing'))
    const rid = w.ps_request(this._core, 0, 0, 0, core.scratch)
    if (rid < 0) return cb(coreError(rid))
    const slot = core.i32[core.scratch >> 2]
    this._slots[slot] = cb
    try {
      this.read({ req: rid, stream: false, end: false, value: obj })
    } catch (err) {
      if (!isRefusal(err)) throw err
      // it never left: it ends here, as if answered with the refusal
      this._slots[slot] = undefined
      w.ps_session_recv_packet(this._core, -rid, C.flags.FLAG_END)
      cb(err)
      this._maybedone(err)
    }
  }

  // Sends a request to the other end for a stream
  stream () {
    if (this._closing) throw new Error('parent stream is closing')
    const rid = w.ps_stream_open(this._core, core.scratch)
    if (rid < 0) throw coreError(rid)
    const slot = core.i32[core.scratch >> 2]
    const sub = new Substream(rid, this, slot)
    this._slots[slot] = sub
    return sub
  }

  // Marks the packetstream to close when all current IO is finished
  close (cb) {
    if (!cb) throw new Error('packet-stream.close *must* have callback')
    if (this._closed) return cb()
    this._closecbs.push(cb)
    this._closing = true
    w.ps_session_close(this._core)
    this._maybedone()
  }

  // Forces immediate close of the PacketStream
  // - usually triggered by an `end` packet from the other end
  destroy (end) {
    end = end || flat(end)
    this.ended = end
    this._closing = true
    this._destroyed = true
    let err = end === true ? parentEnded() : end
    if (!this._core) return // already closed: nothing is open
    w.ps_session_destroy(this._core, end === true ? 0 : C.errors.ERR_DESTROYED)
    // Every callback that is pending hears the end even if one throws, and
    // the session closes: the first throw goes on to the caller afterwards
    // (as the reference's would, which stops there and leaves the rest of
    // the session, and a transport under it, open), later ones are reported.
    const calls = firstThrowLater()
    // A destroy called from a substream's reader in this loop finds that
    // substream gone already; in the reference it is still in its table
    // while its reader runs, and counts as open below (a request is out of
    // the table before its callback runs, in both).
    const withinReader = this._destroyingStream
    // The core hands out what is open in the reference's order: our
    // requests, then substreams the peer opened, then ours.
    const ev = (core.scratch + 16) >> 2
    let numended = 0
    while (this._core && w.ps_session_poll(this._core, core.scratch + 16) > 0) {
      const type = core.i32[ev + EV_TYPE]
      const slot = core.i32[ev + EV_SLOT]
      if (type === EV.REQUEST_ABORTED) {
        numended++
        const cb = this._slots[slot]
        this._slots[slot] = undefined
        calls.run(() => cb(err, undefined))
        calls.run(() => this._maybedone(err))
      } else if (type === EV.STREAM_ABORTED) {
        numended++
        const sub = this._slots[slot]
        this._slots[slot] = undefined
        sub._slot = -1 // the core releases it at the next poll
        sub.writeEnd = true // destroy it without sending it a message
        this._destroyingStream = true
        calls.run(() => sub.destroy(err))
        this._destroyingStream = withinReader
      } else if (type === EV.CLOSED) {
        break // the core is done; what the user hears follows below
      }
    }
    // from the outside it is not an error if nothing was open
    if (numended === 0 && end === true && !withinReader) err = null
    calls.run(() => this._maybedone(err))
    calls.rethrow()
  }

  // Closes if closing and nothing is open any more. As in the reference,
  // the session counts as closed only once its end has been read: a peer
  // wired synchronously that answers within that read still reaches it
  // (and may close it a second time). The core is freed after that.
  _maybedone (err) {
    if (this._closed || !this._closing) return
    if (!(w.ps_session_state(this._core) & IDLE)) return
    this.read(null, err || true)
    this._closed = true
    // Every close callback hears the end even if one throws, and the core
    // is freed: the first throw goes on to the caller (as the reference's
    // would), later ones are reported.
    const calls = firstThrowLater()
    for (const cb of this._closecbs) calls.run(cb, err)
    // deallocate
    this.opts = null
    this._closecbs.length = 0
    this.read = closedread
    this._slots = []
    this._hot = null
    if (this._core) {
      if (orphans) orphans.unregister(this)
      w.ps_session_del(this._core)
      this._core = 0
    }
    calls.rethrow()
  }

  // Sends data out to the other end
  // - to be overridden by the PacketStream consumer
  read (msg) {
    console.error('please overwrite read method to do IO', msg)
  }

  // A packet dropped where the reference drops it is logged as it logs it,
  // up to LOGGED_DROPS a session: a peer that sends a flood of them does
  // not get to flood the log (a line says when the rest go unlogged).
  _logDrop (...args) {
    const n = ++this._drops
    if (n <= LOGGED_DROPS) console.error(...args)
    if (n === LOGGED_DROPS) console.error(`packet-stream-wasm: ${n} packets dropped on this session were logged; later ones are not`)
  }

  // Internal handler of incoming packets other than messages
  _onpacket (msg) {
    const req = msg.req
    if (!this._core) return this._afterclose(msg)
    // Data for the substream that took the last data packet, while the
    // core still holds it: in this mode the core would answer "data for
    // that slot" and change nothing, so the call is spared. Every release
    // of a slot sets the substream's _slot to -1.
    const hot = this._hot
    if (hot !== null && req === -hot.id && hot._state >= 0 && msg.stream && !msg.end) {
      if (hot.read) hot.read(msg.value)
      else this._logDrop('no .read for stream:', hot.id, 'dropped:', msg)
      return
    }
    // numbers that are not int32 cannot be on the wire nor name anything
    // (packet-stream 2.0.6 coerces '2' or 1.5; we drop them)
    if ((req | 0) !== req) {
      if (debug.enabled) console.error('packet-stream-wasm: dropped a packet whose req is not a 32-bit integer', msg)
      return
    }
    if (req > 0 && !msg.stream) {
      if (++this._peerRequests > this._maxPeerRequests) {
        return void this.destroy(coreError(C.errors.ERR_PEER_REQUEST_LIMIT))
      }
      return this._onrequest(msg)
    }
    const r = w.ps_session_recv_packet(this._core, req, (msg.stream ? 8 : 0) | (msg.end ? 4 : 0))
    if (r < 0) return void this.destroy(coreError(r))
    switch (r & TYPE_MASK) {
      case EV.RESPONSE: return this._onresponse(msg, r >>> SLOT_SHIFT)
      case EV.STREAM_DATA:
      case EV.STREAM_END: return this._onstream(msg, r)
      case EV.STRAY:
        if (msg.stream) this._logDrop('no stream for incoming msg', msg)
    }
  }

  // After closing nothing is open and nobody handles anything; packets on
  // substreams are logged as the reference logs them.
  _afterclose (msg) {
    if (!msg.stream) return
    if (msg.req < 0) this._logDrop('no stream for incoming msg', msg)
    else if (!msg.end) this._logDrop('no .read for stream:', msg.req * -1, 'dropped:', msg)
  }

  // Internal handler of incoming message msgs
  _onmessage (msg) {
    if (this.opts && typeof this.opts.message === 'function') {
      const returned = this.opts.message(msg.value)
      if (returned instanceof Promise) caught(returned, untold)
    }
  }

  // Internal handler of incoming requests
  _onrequest (msg) {
    const rid = msg.req * -1
    if (this.opts && typeof this.opts.request === 'function') {
      let once = false
      let counted = true // in _peerRequests until answered, or until the handler threw
      const cb = (err, value) => {
        if (once) throw new Error('cb called twice from local api')
        once = true
        if (counted) {
          counted = false
          this._peerRequests--
        }
        if (err) this.read({ value: flat(err), end: true, req: rid })
        else {
          try {
            this.read({ value, end: false, req: rid })
          } catch (e) {
            if (!isRefusal(e)) throw e
            this.read({ value: flat(e), end: true, req: rid }) // the peer hears why
          }
        }
        this._maybedone()
      }
      try {
        const returned = this.opts.request(msg.value, cb)
        // an async handler that fails before answering answers with its error
        if (returned instanceof Promise) caught(returned, (err) => !once && !this.ended && !this._closed && (cb(err), true))
      } catch (err) {
        // the throw goes to the caller of write, as in 2.0.6; the request
        // no longer counts against maxRequests unless answered later
        if (counted) {
          counted = false
          this._peerRequests--
        }
        throw err
      }
    } else {
      this._peerRequests--
      this.read({
        value: { message: 'Unable to handle requests', name: 'NO_REQUEST_HANDLER', stack: null },
        end: true,
        stream: false,
        req: rid
      })
      this._maybedone()
    }
  }

  // Internal handler of incoming responses
  _onresponse (msg, slot) {
    const cb = this._slots[slot]
    this._slots[slot] = undefined
    const err = msg.end ? msg.value : null
    cb(err, msg.end ? null : msg.value)
    this._maybedone(err)
  }

  // Hands a substream the peer opened to the stream handler. (Apart from
  // _onstream, which runs for every packet and should stay small.)
  _handstream (sub) {
    const returned = this.opts.stream(sub)
    if (!(returned instanceof Promise)) return
    // an async handler may iterate after an await: what comes first is
    // held for it; one that fails ends the substream with its error
    if (!sub.read && sub._held === undefined) {
      sub._held = []
      // a handler that is done and never read: what comes is dropped, as
      // in 2.0.6, and nothing is kept for a reader that will not come
      returned.then(() => { if (!sub.read) sub._held = undefined }, () => {})
    }
    caught(returned, (err) => {
      if (sub.writeEnd || !sub._ps) return false
      sub.destroy(err)
      return true
    })
  }

  // Internal handler of incoming stream msgs
  _onstream (msg, r) {
    const slot = r >>> SLOT_SHIFT
    let sub
    if (r & OPENED) {
      sub = new Substream(msg.req * -1, this, slot)
      this._slots[slot] = sub
      if (this.opts && typeof this.opts.stream === 'function') this._handstream(sub)
    } else {
      sub = this._slots[slot]
    }
    if (r & RELEASED) { // both sides have ended: the core forgot it
      this._slots[slot] = undefined
      sub._slot = -1
    }
    if ((r & TYPE_MASK) === EV.STREAM_END) {
      sub._endRead(msg.value)
      if (sub.read) sub.read(null, msg.value)
      this._maybedone()
    } else if (sub.read) {
      // what was held is older than what a read assigned since hears: it
      // goes, so that no reader gets values out of order
      if (sub._held !== undefined) sub._held = undefined
      this._hot = sub
      sub.read(msg.value)
    } else if (msg.req < 0 || sub._held !== undefined) {
      // held for an iterator (see _hold): on a substream we opened, or one
      // whose async handler has yet to read; not the fast path, so that a
      // read assigned later is seen above
      sub._hold(msg.value)
    } else {
      this._logDrop('no .read for stream:', sub.id, 'dropped:', msg)
    }
  }

  // A substream sends its end. If the peer had ended too it is finished,
  // but stays in the tables until the substream deallocates itself after
  // sending, as the reference's does.
  _endStream (sub) {
    if (sub._slot >= 0 && this._core) w.ps_stream_end(this._core, sub._slot, 0, 0, 0)
  }

  // A substream is deallocated. One the core had already finished is gone
  // from its tables; but the reference forgets a substream by number, so
  // if the peer has opened another on the same number since, that one is
  // forgotten now (it lives on, unreachable by the peer, as there).
  _releaseStream (sub) {
    if (this._hot === sub) this._hot = null // nor kept alive by the fast path
    let slot = sub._slot
    if (slot < 0) {
      if (sub.id > 0 || !this._core) return // our numbers are never reused
      slot = w.ps_session_find(this._core, sub.id)
      const other = slot === NO_SLOT ? undefined : this._slots[slot]
      if (!other) return // none, or this one being aborted with the session
      other._slot = -1
    } else {
      sub._slot = -1
    }
    if (this._core) w.ps_stream_release(this._core, slot)
    this._slots[slot] = undefined
  }
}

module.exports = PacketStream
