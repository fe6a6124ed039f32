'use strict'
// The demo (`npm run demo`): one service, two transports, one API.
//
// A WebSocket server (`ws` on 127.0.0.1) and a worker thread each serve the
// same handlers; a client of each (connectWebSocket, connectPort) makes
// requests (one of them answered with an error), uploads 32 MiB in 64 KiB
// chunks over a substream with back pressure (ps.writable, ps.drained()) and
// reads the reply with `for await`, then measures requests/s at 64 in flight
// and the upload's MB/s. Everything is closed with the goodbye; the process
// exits 0, or 1 if anything went wrong.
//
// This file is also the worker's script (see the end).
const { Worker, isMainThread, parentPort, threadId } = require('node:worker_threads')
const { once } = require('node:events')
const { performance } = require('node:perf_hooks')
const WebSocket = require('ws')
const packets = require('..')

const UPLOAD_BYTES = 32 << 20
const CHUNK_BYTES = 64 << 10
const YIELD_BYTES = 1 << 20 // frames of one turn leave together: let each MiB go
const REQUESTS = 20000
const IN_FLIGHT = 64

// --- the service: the same handlers on both servers ------------------------

function serve (where) {
  return {
    request (value, cb) {
      if (value instanceof Uint8Array) return cb(null, Buffer.from(value).reverse()) // binary in, binary out
      const { op, args } = value || {}
      if (op === 'add') return cb(null, args[0] + args[1])
      if (op === 'whoami') return cb(null, where)
      if (op === 'divide') {
        if (args[1] === 0) return cb(new RangeError(`cannot divide ${args[0]} by zero`))
        return cb(null, args[0] / args[1])
      }
      if (op === 'echo') return cb(null, args[0])
      cb(new Error(`no such op: ${op}`))
    },
    // an upload: a header {upload, bytes}, binary chunks, the end; the reply
    // is a summary, then our end
    stream (sub) {
      let header = null
      let bytes = 0
      let chunks = 0
      let wrong = 0
      sub.read = (data, end) => {
        if (end) {
          if (end !== true) return // the client gave up: nothing to answer
          sub.write({ name: header && header.upload, bytes, chunks, wrong, complete: !!header && bytes === header.bytes })
          sub.end()
          return
        }
        if (!header) {
          header = data
          return
        }
        // chunk i is filled with the byte i & 255
        if (data[0] !== (chunks & 255) || data[data.length - 1] !== (chunks & 255)) wrong++
        chunks++
        bytes += data.length
      }
    }
  }
}

// --- the client: the same steps over each transport ------------------------

const mb = (bytes) => (bytes / (1 << 20)).toFixed(0) + ' MiB'
const rate = (n) => n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : n.toFixed(0)
const show = (v) => JSON.stringify(v)
const pad = (s) => s.padEnd(34)

async function tryRequest (ps, value) {
  try {
    return { value: await ps.request(value) }
  } catch (err) {
    return { err }
  }
}

async function requests (ps, say) {
  const whoami = await ps.request({ op: 'whoami' })
  say(`${pad('request whoami')} -> ${show(whoami)}`)
  const sum = await ps.request({ op: 'add', args: [2, 40] })
  if (sum !== 42) throw new Error(`add(2, 40) gave ${sum}`)
  say(`${pad('request add(2, 40)')} -> ${show(sum)}`)
  const bytes = await ps.request(Buffer.from([1, 2, 3]))
  if (!Buffer.isBuffer(bytes) || bytes.toString('hex') !== '030201') throw new Error(`the bytes came back as ${show(bytes)}`)
  say(`${pad('request <Buffer 01 02 03>')} -> ${require('node:util').inspect(bytes)}`)
  const bad = await tryRequest(ps, { op: 'divide', args: [1, 0] })
  if (!bad.err || bad.err.name !== 'RangeError') throw new Error(`divide(1, 0) should fail with a RangeError, gave ${show(bad)}`)
  say(`${pad('request divide(1, 0)')} -> rejected: ${bad.err.name}: ${bad.err.message}`)
  const none = await tryRequest(ps, { op: 'nope' })
  if (!none.err) throw new Error('an unknown op should fail')
  say(`${pad('request nope()')} -> rejected: ${none.err.message}`)
}

// Uploads UPLOAD_BYTES over a substream, waiting whenever the transport is
// backed up; returns the server's summary and what it took.
async function upload (ps) {
  const sub = ps.stream()
  const replies = sub[Symbol.asyncIterator]() // reads the server's reply
  const chunk = Buffer.alloc(CHUNK_BYTES)
  let waits = 0
  let sinceYield = 0
  const start = performance.now()
  sub.write({ upload: 'demo.bin', bytes: UPLOAD_BYTES })
  for (let i = 0, sent = 0; sent < UPLOAD_BYTES; i++, sent += CHUNK_BYTES) {
    chunk.fill(i & 255) // written into the frame at once: the buffer can be reused
    sub.write(chunk)
    sinceYield += CHUNK_BYTES
    if (!ps.writable) {
      waits++
      await ps.drained() // the transport's buffer went over its high-water mark
      sinceYield = 0
    } else if (sinceYield >= YIELD_BYTES) {
      await new Promise(setImmediate)
      sinceYield = 0
    }
  }
  sub.end()
  const reply = []
  for await (const r of replies) reply.push(r)
  const seconds = (performance.now() - start) / 1000
  const summary = reply[0]
  if (reply.length !== 1 || !summary.complete || summary.wrong !== 0 || summary.bytes !== UPLOAD_BYTES) {
    throw new Error(`the upload went wrong: ${show(reply)}`)
  }
  return { summary, waits, seconds }
}

async function throughput (ps) {
  let issued = 0
  async function lane () {
    while (issued < REQUESTS) {
      const x = issued++
      const y = await ps.request({ op: 'echo', args: [x] })
      if (y !== x) throw new Error(`echo(${x}) gave ${y}`)
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  return REQUESTS / ((performance.now() - start) / 1000)
}

async function client (title, ps, hello, say, note = '') {
  console.log(`\n${title}`)
  say(`${pad('message from the server')} -> ${show(await hello)}`)
  await requests(ps, say)
  const up = await upload(ps)
  const s = up.summary
  say(`${pad(`substream: ${mb(UPLOAD_BYTES)} in ${CHUNK_BYTES >> 10} KiB chunks`)} -> ${s.chunks} chunks, ${s.bytes} bytes arrived intact` +
    ` (${up.waits ? `waited for the transport to drain ${up.waits} times` : 'the transport never backed up'})`)
  const calls = await throughput(ps)
  const mbps = UPLOAD_BYTES / (1 << 20) / up.seconds
  say(`throughput: ${rate(calls)} requests/s at ${IN_FLIGHT} in flight, ${mbps.toFixed(0)} MB/s streamed${note}`)
  return { calls, mbps }
}

// Closes a session gracefully: resolves once everything we opened is done
// and the goodbye has been framed.
function close (ps) {
  return new Promise((resolve, reject) => ps.close((err) => (err ? reject(err) : resolve())))
}

// The client's session, with the server's hello message.
function connect (transport, target) {
  let hello
  const helloP = new Promise((resolve) => { hello = resolve })
  const ps = transport(target, {
    message: hello,
    close (err) { if (err) console.error('  session ended with', err.message) }
  })
  return { ps, hello: helloP }
}

async function viaWorker () {
  const worker = new Worker(__filename)
  const exited = once(worker, 'exit')
  const { ps, hello } = connect(packets.connectPort, worker)
  const say = (line) => console.log('  ' + line)
  const result = await client('worker_threads: connectPort(worker) here, connectPort(parentPort) in the worker', ps, hello, say)
  await close(ps)
  // the goodbye ends the worker's session, which lets go of parentPort: the
  // worker has nothing left to do and exits
  const timer = setTimeout(() => worker.terminate(), 5000)
  const [code] = await exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`the worker exited with code ${code}`)
  say('closed: the goodbye ended the worker\'s session and the worker exited (code 0)')
  return result
}

// A ws client masks what it sends, and without the optional `bufferutil`
// package both ends do it byte by byte in JavaScript: most of the stream's time.
function maskingNote () {
  try {
    require.resolve('bufferutil', { paths: [require.resolve('ws')] })
    return ''
  } catch {
    return '\n    (most of the stream\'s time is ws masking and unmasking each byte in JavaScript; its optional bufferutil does it natively)'
  }
}

async function viaWebSocket () {
  const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const url = `ws://127.0.0.1:${wss.address().port}`
  const serverDone = new Promise((resolve) => {
    wss.on('connection', (socket) => {
      const ps = packets.connectWebSocket(socket, { ...serve('the ws server'), close: resolve })
      ps.message({ hello: 'from the ws server', at: url })
    })
  })
  const socket = new WebSocket(url) // handed over before it opened
  const socketClosed = once(socket, 'close')
  const { ps, hello } = connect(packets.connectWebSocket, socket)
  const say = (line) => console.log('  ' + line)
  try {
    const result = await client(`WebSocket: connectWebSocket(new WebSocket('${url}')) here, connectWebSocket(socket) on the server`,
      ps, hello, say, maskingNote())
    await close(ps)
    const [code] = await socketClosed
    const serverErr = await serverDone
    if (serverErr) throw new Error(`the server's session ended with ${serverErr.message}`)
    say(`closed: the goodbye ended the server's session, the socket closed (${code})`)
    return result
  } finally {
    for (const c of wss.clients) c.terminate()
    await new Promise((resolve) => wss.close(resolve))
  }
}

async function main () {
  console.log('packet-stream-wasm demo: the same service over a worker thread and a WebSocket')
  const worker = await viaWorker()
  const ws = await viaWebSocket()
  console.log('\nsummary')
  for (const [name, r] of [['worker_threads', worker], ['WebSocket', ws]]) {
    console.log(`  ${name.padEnd(15)} ${rate(r.calls).padStart(7)} requests/s at ${IN_FLIGHT} in flight  ${r.mbps.toFixed(0).padStart(5)} MB/s streamed`)
  }
}

if (isMainThread) {
  // a demo that hangs has failed
  const watchdog = setTimeout(() => {
    console.error('demo: no end after 60 s')
    process.exit(1)
  }, 60000)
  watchdog.unref()
  main().then(() => {
    clearTimeout(watchdog)
  }, (err) => {
    console.error('\ndemo failed:', err && err.stack ? err.stack : err)
    process.exit(1)
  })
} else {
  // the worker: serve the parent over parentPort until its goodbye
  const ps = packets.connectPort(parentPort, serve(`worker thread ${threadId}`))
  ps.message({ hello: `from worker thread ${threadId}` })
}
