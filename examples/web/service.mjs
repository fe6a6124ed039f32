// The service of examples/web/: the same module serves the page from a
// module Worker (worker.js, over postMessage) and from the Node server
// (server.js, over a WebSocket). Plain ES module: no Node or browser APIs.
//
//   serve(connectPort, self, 'the worker')
//   serve(connectWebSocket, socket, 'the server')
//
// Requests: {op: 'echo', args: [x]} -> x, {op: 'add', args: [a, b]} -> a + b,
// {op: 'whoami'} -> where, {op: 'divide', args: [a, b]} (an error when b is 0).
// Substreams: the page writes {download: {chunks, size}}; the service writes
// that many chunks of `size` bytes (chunk i filled with the byte i & 255),
// waiting whenever its transport is backed up, then ends.
export function serve (connect, target, where) {
  const ps = connect(target, {
    request (value, cb) {
      const { op, args } = value || {}
      if (op === 'echo') return cb(null, args[0])
      if (op === 'add') return cb(null, args[0] + args[1])
      if (op === 'whoami') return cb(null, where)
      if (op === 'divide') {
        if (args[1] === 0) return cb(new RangeError(`cannot divide ${args[0]} by zero`))
        return cb(null, args[0] / args[1])
      }
      cb(new Error(`no such op: ${op}`))
    },
    stream (sub) {
      sub.read = (data, end) => {
        if (end) {
          if (!sub.writeEnd) sub.end() // the page ended first: so do we
          return
        }
        // a download cut short by the end of the session (drained() throws
        // it) has no one left to tell
        if (data && data.download) download(sub, data.download).catch(() => {})
      }
    }
  })

  async function download (sub, { chunks, size }) {
    const chunk = new Uint8Array(Math.min(size >>> 0, 1 << 20))
    for (let i = 0; i < chunks && !sub.writeEnd; i++) {
      chunk.fill(i & 255) // the frame is made at once: the buffer can be reused
      sub.write(chunk)
      if (!ps.writable) await ps.drained()
    }
    if (!sub.writeEnd) sub.end()
  }

  return ps
}
