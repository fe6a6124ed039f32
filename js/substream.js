'use strict'
// A substream: packet-stream's "weird stream". `read(data, end)` is assigned
// by the user and receives what the peer sends; `write(data, end)` sends. A
// truthy `end` ends the direction and its data is ignored.
//
// The protocol state (is it open, has each side ended, when it is finished)
// lives in the C core under `_slot`; `readEnd` and `writeEnd` are the values
// the user sees, set when the core reports the transitions.
const { flat, toError, closedread, parentEnded } = require('./util')

// _state packs the core's slot (-1 once released) with the two ends, so
// that a million open substreams cost 16 bytes less each: bit 0 readEnd
// (only ever true or null), bit 1 writeEnd === true, the rest the slot. A
// writeEnd of any other value (an error) is kept in a property added then.
const READ_END = 1
const WRITE_END = 2
const SLOT_SHIFT = 2

// Marks the read of an async iterator: it tells whether it is still reading.
const ITERATING = Symbol('packet-stream-wasm: iterating')
// An iterator's queue drops the values it has handed out from this many on.
const COMPACT_FROM = 1024
// The read and the write of a substream whose async iterator was left
// early: our side has ended; what the peer still sends and what is written
// here are dropped (as after a destroy), until the peer's end finishes it.
function dropped () {}
function writeAfterLeaving () {}
class Substream {
  constructor (id, ps, slot) {
    this.id = id
    this.read = null // assigned by the user
    this._ps = ps // null once deallocated
    this._state = slot << SLOT_SHIFT
  }

  // Data from the peer before read is assigned, on a substream we opened or
  // one whose async handler has yet to read: held for an async iterator
  // taken later, so that `s = ps.stream(); s.write(x); await ...; for await
  // (const y of s)` or a handler that awaits before iterating loses
  // nothing. (packet-stream 2.0.6 throws a TypeError at the peer's input for
  // a substream we opened.) A read assigned later gets only what comes after.
  _hold (data) {
    if (this._held === undefined) this._held = []
    this._held.push(data)
  }

  get readEnd () {
    return this._state & READ_END ? true : null
  }

  set readEnd (value) {
    this._state = value ? this._state | READ_END : this._state & ~READ_END
  }

  get writeEnd () {
    if (this._state & WRITE_END) return true
    return this._writeEnd === undefined ? null : this._writeEnd
  }

  set writeEnd (value) {
    if (value === true) {
      this._state |= WRITE_END
      if (this._writeEnd !== undefined) this._writeEnd = undefined
    } else {
      this._state &= ~WRITE_END
      if (value !== null || this._writeEnd !== undefined) this._writeEnd = value === null ? undefined : value
    }
  }

  // The read side has ended with |err|: an error is kept (only then, a
  // property added) for an async iterator taken after the end.
  _endRead (err) {
    this.readEnd = true
    if (err && err !== true) this._readError = err
    else if (!err && this._ps && this._ps._destroyed) this._readError = parentEnded()
  }

  get _slot () {
    return this._state >> SLOT_SHIFT
  }

  set _slot (slot) {
    this._state = (slot << SLOT_SHIFT) | (this._state & (READ_END | WRITE_END))
  }

  // Sends data, or with a truthy `err` the end of our side (err is its value)
  write (data, err) {
    const ps = this._ps
    if (err) {
      this.writeEnd = err
      if (ps) {
        ps._endStream(this)
        ps.read({ req: this.id, stream: true, end: true, value: flat(err) })
        if (this.readEnd) this.destroy(err)
        ps._maybedone(err)
      }
    } else if (ps) {
      ps.read({ req: this.id, stream: true, end: false, value: data })
    }
  }

  // Sends the end of our side: `true`, or the error given
  end (err) {
    this.write(null, flat(err || true))
  }

  // Ends both sides now: our reader hears `err`, the peer hears our end
  destroy (err) {
    if (!this.writeEnd) {
      this.writeEnd = true
      if (!this.readEnd) {
        this._endRead(err)
        try {
          // (what is held waits for an iterator, which hears the end then)
          if (this.read || this._held === undefined) this.read(null, err) // a throwing reader must not stop the cleanup
        } catch (e) {
          console.error('Exception thrown by PacketStream substream end handler', e)
          console.error(e.stack)
        }
      }
      this.write(null, err)
    } else if (!this.readEnd) {
      this._endRead(err)
      try {
        if (this.read) this.read(null, err) // it may never have been piped anywhere
      } catch (e) {
        console.error('Exception thrown by PacketStream substream end handler', e)
        console.error(e.stack)
      }
    }
    if (this._ps) {
      this._ps._releaseStream(this)
      this.read = closedread
      this._ps = null
    }
  }

  // Reads what the peer sends as an async iterator (this takes over
  // `read`): values until the peer's end; an error end is thrown (once),
  // and so is the end of the session (as its pending requests hear it: the
  // data may be cut short). Leaving the loop early ends our side (see
  // return() below).
  // next() may be called again before the last one settled; an iterator
  // taken after the end is done at once (or throws the error that ended
  // it); one taken while another is still reading throws a TypeError.
  [Symbol.asyncIterator] () {
    if (this.read && this.read[ITERATING] && this.read[ITERATING]()) {
      throw new TypeError('packet-stream-wasm: this substream is already being read by an async iterator')
    }
    const queue = this._held || [] // what came before is read first
    this._held = undefined
    let head = 0
    // true, or what to throw: after the end, or once a loop was left
    let end = this.readEnd || this.write === writeAfterLeaving ? this._readError || true : null
    const waiting = [] // next() calls not yet settled: [resolve, reject, ...]
    // the loop has heard the end (done, or the error): return() is then a
    // loop finishing (Readable.from and try/finally call it), not leaving
    let told = end !== null && queue.length === 0
    const over = () => {
      told = true
      if (end === true) return Promise.resolve({ value: undefined, done: true })
      const err = end
      end = true
      return Promise.reject(toError(err))
    }
    const settleWaiting = () => {
      const calls = waiting.splice(0)
      for (let i = 0; i < calls.length; i += 2) over().then(calls[i], calls[i + 1])
    }
    let read = null
    if (!end) {
      read = (data, err) => {
        if (end) return
        // the end, also one that carries no value: the peer's is always
        // truthy, so that is a destroy(), of this substream (done) or of
        // the session (cut short: _endRead has kept that as the error)
        if (err || this.readEnd) {
          end = err || this._readError || true
          settleWaiting()
        } else if (waiting.length) {
          const resolve = waiting[0]
          waiting.splice(0, 2)
          resolve({ value: data, done: false })
        } else {
          queue.push(data)
        }
      }
      read[ITERATING] = () => !end
      this.read = read
    } else if (queue.length) {
      // what was held before the end is this iterator's: another one is
      // refused while it reads that
      read = () => {}
      read[ITERATING] = () => head < queue.length
      this.read = read
    }
    const next = () => {
      if (head < queue.length) {
        const value = queue[head]
        queue[head++] = undefined
        // what was read is dropped once it is most of the queue, so that a
        // reader that stays behind does not keep every value it has seen
        if (head === queue.length) queue.length = head = 0
        else if (head >= COMPACT_FROM && head * 2 >= queue.length) {
          queue.splice(0, head)
          head = 0
        }
        return Promise.resolve({ value, done: false })
      }
      if (end) return over()
      return new Promise((resolve, reject) => { waiting.push(resolve, reject) })
    }
    return {
      next,
      // Leaving early ends our side as end() does, and drops what the peer
      // still sends until its end, which finishes the substream: a close()
      // waits for it as for any open substream, so that the peer can end
      // cleanly before the goodbye (a destroy would forget the substream,
      // and the goodbye could then cut the peer's handler short)
      return: () => {
        if (!told && this.write !== writeAfterLeaving) {
          if (this.read === read) this.read = dropped
          // also when the peer's end has come and values were still queued
          if (!this.writeEnd) this.end()
          this.write = writeAfterLeaving
        }
        end = true
        queue.length = head = 0
        settleWaiting()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator] () { return this }
    }
  }
}

module.exports = Substream
