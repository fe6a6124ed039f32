'use strict'
// An in-memory byte pipe that behaves like a socket, for pull-streams of
// Buffers: its sink takes what the writer gives until 64 KiB wait
// unsent (a socket's high-water mark: above it the writer is held back),
// and every setImmediate the waiting bytes go to the source side as one
// chunk of at most 64 KiB, as a 'data' event would bring them. So the
// reader sees realistic chunks, arriving asynchronously, and a writer
// faster than its reader meets backpressure.
const HIGH_WATER = 64 * 1024

function pipe () {
  let pending = [] // Buffers written, not yet delivered
  let pendingBytes = 0
  let scheduled = false
  let ended = null // the writer's end (true or an error)
  let endDelivered = false
  let waiting = null // the reader's callback
  let resume = null // the writer held back by backpressure
  let abortUpstream = null
  const chunks = [] // delivered, not yet read

  function deliver () {
    scheduled = false
    if (pendingBytes) {
      let taken = 0
      let n = 0
      while (n < pending.length && taken < HIGH_WATER) taken += pending[n++].length
      const parts = pending.slice(0, n)
      pending = pending.slice(n)
      pendingBytes -= taken
      chunks.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, taken))
    }
    if (pendingBytes) schedule()
    flush()
    if (resume && pendingBytes < HIGH_WATER) { const r = resume; resume = null; r() }
  }

  function schedule () {
    if (!scheduled) { scheduled = true; setImmediate(deliver) }
  }

  function flush () {
    while (waiting && chunks.length) {
      const cb = waiting; waiting = null
      cb(null, chunks.shift())
    }
    if (waiting && ended && !pendingBytes && !endDelivered) {
      endDelivered = true
      const cb = waiting; waiting = null
      cb(ended)
    }
  }

  return {
    sink (read) {
      abortUpstream = read
      let sync = false
      let again = false
      function next () {
        if (sync) { again = true; return }
        do {
          again = false
          sync = true
          read(null, function (end, data) {
            if (end) { ended = end; schedule(); return }
            pending.push(data)
            pendingBytes += data.length
            schedule()
            if (pendingBytes >= HIGH_WATER) resume = next
            else next()
          })
          sync = false
        } while (again)
      }
      next()
    },
    source (abort, cb) {
      if (abort) {
        ended = ended || abort
        pending = []; pendingBytes = 0; chunks.length = 0
        if (abortUpstream && !endDelivered) abortUpstream(abort, function () {})
        endDelivered = true
        return cb(abort)
      }
      waiting = cb
      flush()
    }
  }
}

module.exports = pipe
