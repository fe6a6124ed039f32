'use strict'
// A substream: packet-stream's "weird stream". `read(data, end)` is assigned
// by the user and receives what the peer sends; `write(data, end)` sends. A
// truthy `end` ends the direction and its data is ignored.
//
// The protocol state (is it open, has each side ended, when it is finished)
// lives in the C core under `_slot`; the fields here are the values the
// user sees, set when the core reports the transitions.
const { flat, closedread } = require('./util')

class Substream {
  constructor (id, ps, slot) {
    this.id = id
    this.read = null // assigned by the user
    this.writeEnd = null
    this.readEnd = null
    this._ps = ps // null once deallocated
    this._slot = slot // -1 once the core has released it
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
        this.readEnd = true
        try {
          this.read(null, err) // a throwing reader must not stop the cleanup
        } catch (e) {
          console.error('Exception thrown by PacketStream substream end handler', e)
          console.error(e.stack)
        }
      }
      this.write(null, err)
    } else if (!this.readEnd) {
      this.readEnd = true
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
}

module.exports = Substream
