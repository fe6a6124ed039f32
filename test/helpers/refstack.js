'use strict'
// Shared by the tests over real TCP (127.0.0.1 only):
//
// - the reference stack: packet-stream@2.0.6 framed by
//   packet-stream-codec@1.2.0 over a net.Socket through
//   stream-to-pull-stream, wired as muxrpc wires it (refOn, connectRef);
// - this package's connectStream behind the same little API (oursOn,
//   connectOurs), so a test can run with either stack on either end;
// - raw sockets for bytes no packet stream would send (connectRaw, frames,
//   parseFrames), a listening server that is easy to close (listen), and
//   withTimeout, which every wait goes through.
const net = require('node:net')
const { once } = require('node:events')

// Resolves with the 'close' of |socket|, also after an error (a reset shows
// as 'close'; tests look at that). events.once would reject on 'error'.
const closeOf = (socket) => new Promise((resolve) => socket.once('close', resolve))
const pull = require('pull-stream')
const psc = require('packet-stream-codec')
const packetStream = require('packet-stream')
const toPull = require('stream-to-pull-stream')
const { withTimeout } = require('./wait')

// packet-stream's read/write as a pull duplex, the way muxrpc does it
// (muxrpc/pull-weird.js under pull-goodbye): the packets it sends, then
// 'GOODBYE' when it closes, the source ending once the other side's goodbye
// arrives; packets received go to ps.write, the end of input to
// ps.write(null, end).
function packetDuplex (ps) {
  const queue = []
  let end = null
  let goodbyeIn = false
  let waiting = null
  function drain () {
    if (!waiting) return
    const cb = waiting
    if (queue.length) {
      waiting = null
      cb(null, queue.shift())
    } else if (end && (end !== true || goodbyeIn)) {
      waiting = null
      cb(end)
    }
  }
  ps.read = (msg, ended) => {
    if (ended) {
      if (end) return
      end = ended
      if (ended === true) queue.push('GOODBYE')
    } else {
      queue.push(msg)
    }
    drain()
  }
  return {
    source (abort, cb) {
      if (abort) {
        end = end || abort
        return cb(abort)
      }
      waiting = cb
      drain()
    },
    sink (read) {
      pull(read, pull.drain((msg) => {
        if (msg === 'GOODBYE') {
          goodbyeIn = true
          drain()
        } else {
          ps.write(msg)
        }
      }, (err) => {
        goodbyeIn = true
        ps.write(null, err || true)
        drain()
      }))
    }
  }
}

// A session on a connected socket, made by make(handlers) -> ps, with
// helpers for tests. opts: slow (multiplies every timeout), socketClosed (a
// promise of the socket's 'close', when it had to be taken earlier),
// message, request, stream, close (handlers, besides the recording ones),
// limits.
function wrapSession (socket, make, opts = {}) {
  const T = (ms) => ms * (opts.slow || 1)
  const socketClosed = opts.socketClosed || closeOf(socket)
  const messages = []
  const messageWaiters = []
  const closeCalls = [] // every call of the close handler: once, always
  let onClose
  const closed = new Promise((resolve) => { onClose = resolve })
  const handlers = {
    message (m) {
      messages.push(m)
      if (opts.message) opts.message(m)
      for (const w of messageWaiters.slice()) w()
    },
    close (err) {
      closeCalls.push(err)
      onClose(err || null)
      if (opts.close) opts.close(err)
    }
  }
  if (opts.request) handlers.request = opts.request
  if (opts.stream) handlers.stream = opts.stream
  if (opts.limits) handlers.limits = opts.limits
  const ps = make(handlers)
  return {
    ps,
    socket,
    messages,
    closeCalls,
    closed, // packet-stream's close callback: null for a clean close
    socketClosed,
    // resolves with the first |n| messages once they arrived
    waitMessages (n, ms = T(5000)) {
      return withTimeout(new Promise((resolve) => {
        const check = () => {
          if (messages.length >= n) {
            messageWaiters.splice(messageWaiters.indexOf(check), 1)
            resolve(messages.slice(0, n))
          }
        }
        messageWaiters.push(check)
        check()
      }), ms, `${n} messages`)
    },
    // the response; an error response rejects with the value that came
    request (value, ms = T(5000)) {
      return withTimeout(new Promise((resolve, reject) => {
        ps.request(value, (err, v) => (err ? reject(err) : resolve(v)))
      }), ms, 'a response')
    },
    // opens a substream; |done| resolves with what came back and the end
    stream () {
      const s = ps.stream()
      const data = []
      s.received = data // what came so far
      s.done = new Promise((resolve) => {
        s.read = (d, end) => {
          if (end) resolve({ data, end })
          else data.push(d)
        }
      })
      return s
    },
    close (ms = T(5000)) {
      return withTimeout(new Promise((resolve) => ps.close(resolve)), ms, 'ps.close')
    }
  }
}

// The reference stack on a connected socket.
function refOn (socket, opts) {
  return wrapSession(socket, (handlers) => {
    const ps = packetStream(handlers)
    const wire = psc(packetDuplex(ps))
    const sock = toPull.duplex(socket)
    pull(sock.source, wire.sink)
    pull(wire.source, sock.sink)
    return ps
  }, opts)
}

// This package's connectStream on a connected socket.
function oursOn (socket, opts) {
  const { connectStream } = require('../..')
  return wrapSession(socket, (handlers) => connectStream(socket, handlers), opts)
}

async function connectWith (on, port, opts = {}) {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {}) // a reset shows as 'close'
  const socketClosed = closeOf(socket)
  await withTimeout(once(socket, 'connect'), 5000 * (opts.slow || 1), 'connect')
  return on(socket, { ...opts, socketClosed })
}

const connectRef = (port, opts) => connectWith(refOn, port, opts)
const connectOurs = (port, opts) => connectWith(oursOn, port, opts)

// A raw socket, for bytes the reference would never send.
async function connectRaw (port, opts = {}) {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = closeOf(socket)
  const chunks = []
  let bytes = 0
  socket.on('data', (d) => { chunks.push(d); bytes += d.length })
  await withTimeout(once(socket, 'connect'), 5000 * (opts.slow || 1), 'connect')
  // untilReceived(n) resolves once n bytes have come
  const untilReceived = (n) => new Promise((resolve) => {
    const check = () => {
      if (bytes < n) return
      socket.off('data', check)
      resolve()
    }
    socket.on('data', check)
    check()
  })
  return { socket, closed, received: () => Buffer.concat(chunks), untilReceived }
}

// Packets framed by packet-stream-codec.
function frames (packets) {
  const parts = []
  for (const p of packets) {
    const [head, body] = psc.encodePair(p)
    parts.push(head)
    if (body) parts.push(body)
  }
  return Buffer.concat(parts)
}

// The whole frames in |bytes|, decoded by packet-stream-codec ('GOODBYE'
// for an all-zero header).
function parseFrames (bytes) {
  const out = []
  let at = 0
  while (bytes.length - at >= 9) {
    const head = psc.decodeHead(bytes.subarray(at, at + 9))
    if (head.length === 0 && bytes.subarray(at, at + 9).equals(Buffer.alloc(9))) {
      out.push('GOODBYE')
      at += 9
      continue
    }
    if (bytes.length - at - 9 < head.length) break
    const msg = psc.decodeBody(bytes.subarray(at + 9, at + 9 + head.length), head)
    out.push({ req: msg.req, stream: msg.stream, end: msg.end, value: msg.value })
    at += 9 + head.length
  }
  return out
}

// A server on 127.0.0.1 calling onConnection(socket); close() destroys what
// is still connected and closes it.
async function listen (onConnection, serverOpts = {}) {
  const sockets = new Set()
  const server = net.createServer(serverOpts, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onConnection(socket)
  })
  server.listen(0, '127.0.0.1')
  await withTimeout(once(server, 'listening'), 5000, 'listen')
  return {
    server,
    port: server.address().port,
    sockets,
    close () {
      for (const s of sockets) s.destroy()
      return withTimeout(new Promise((resolve) => server.close(() => resolve())), 5000, 'server close')
    }
  }
}

module.exports = {
  withTimeout,
  closeOf,
  packetDuplex,
  wrapSession,
  refOn,
  oursOn,
  connectRef,
  connectOurs,
  connectRaw,
  frames,
  parseFrames,
  listen
}
