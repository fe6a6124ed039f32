// The page of test/browser-transports.test.js (WebSocket): connectWebSocket
// on the browser's own WebSocket, against connectWebSocket on a Node `ws`
// server (served at /ps?s=<scenario>). Each scenario opens its own socket;
// the page reports what it saw and the Node test checks it, and the
// server's side.
import packets, { connectWebSocket } from '/js/browser.mjs'
import { run } from './report.mjs'

const info = (err) => err ? { isError: err instanceof Error, name: err.name, message: err.message } : err
const bytes = (u8) => ({ isU8: u8 instanceof Uint8Array, bytes: Array.from(u8) })
const timeout = (promise, ms, what) => Promise.race([promise,
  new Promise((resolve, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// The page's handlers: requests echoed (bytes reversed), 'fail' refused;
// substreams echoed with for await.
const service = {
  request (value, cb) {
    if (value instanceof Uint8Array) return cb(null, value.slice().reverse())
    if (value === 'fail') return cb(new TypeError('refused by the page'))
    cb(null, { echo: value, from: 'page' })
  },
  stream (sub) {
    (async () => {
      for await (const x of sub) sub.write(x instanceof Uint8Array ? x : { got: x })
      sub.end()
    })().catch((err) => sub.end(err))
  }
}

// A socket and its session, connected at once (before the socket opens).
function open (scenario) {
  const socket = new WebSocket(`ws://${location.host}/ps?s=${scenario}`)
  const c = { socket, closes: [] }
  c.socketClosed = new Promise((resolve) => socket.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })))
  c.closed = new Promise((resolve) => {
    c.ps = connectWebSocket(socket, {
      ...service,
      close (err) {
        c.closes.push(info(err))
        resolve(err)
      }
    })
  })
  return c
}

async function talk () {
  const r = {}
  const c = open('talk')
  const { ps } = c
  r.readyStateAtConnect = c.socket.readyState
  // issued before the socket opened
  r.early = await timeout(Promise.all([ps.request({ n: 1 }), ps.request('two')]), 5000, 'early requests')
  r.cb = await new Promise((resolve) => ps.request([1, 2], (err, value) => resolve({ err, value })))
  // error responses: a rejected promise with an Error of the peer's name; a
  // callback gets the flattened value
  try {
    await ps.request('fail')
    r.fail = 'resolved'
  } catch (err) {
    r.fail = { ...info(err), hasRemoteStack: typeof err.remoteStack === 'string' && err.remoteStack.includes('refused by the server') }
  }
  r.failCb = await new Promise((resolve) => ps.request('fail', (err, value) => resolve({ err: info(err), value })))
  // binary
  const u8 = new Uint8Array([0, 1, 2, 127, 128, 254, 255])
  const back = await ps.request(u8)
  r.bin = { back: bytes(back), sent: bytes(u8) }
  const big = new Uint8Array(1 << 20)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255
  const bigBack = await timeout(ps.request(big), 10000, '1 MiB request')
  let same = bigBack.length === big.length
  for (let i = 0; same && i < big.length; i++) same = bigBack[i] === big[big.length - 1 - i]
  r.big = { length: bigBack.length, reversed: same }
  // a substream of the page's, read with for await
  const sub = ps.stream()
  sub.write('one')
  sub.write({ two: 2 })
  sub.write(u8)
  sub.end()
  r.sub = []
  for await (const x of sub) r.sub.push(x instanceof Uint8Array ? bytes(x) : x)
  // leaving the loop early ends our side; the server's end finishes it
  const sub2 = ps.stream()
  for (let i = 0; i < 5; i++) sub2.write(i)
  r.subBreak = []
  for await (const x of sub2) {
    r.subBreak.push(x)
    if (r.subBreak.length === 2) break
  }
  r.subBreakEnds = { writeEnd: sub2.writeEnd }
  for (const until = Date.now() + 5000; !sub2.readEnd && Date.now() < until;) await new Promise((resolve) => setTimeout(resolve, 1))
  r.subBreakEnds.readEnd = sub2.readEnd
  // the server asks the page: requests, an error, binary, a substream
  r.serverAsks = await timeout(ps.request('server-asks'), 10000, 'server-asks')
  // a graceful close
  r.closeCb = info(await timeout(new Promise((resolve) => ps.close(resolve)), 5000, 'close'))
  r.closed = info(await c.closed)
  r.socketClose = await timeout(c.socketClosed, 5000, 'socket close')
  r.closes = c.closes
  return r
}

// The server ends the connection (gracefully or not) while a request of
// the page's is pending.
async function serverEnds (scenario) {
  const r = {}
  const c = open(scenario)
  r.first = await timeout(c.ps.request('hi'), 5000, 'hi')
  // a substream of the page's too (but not when the server closes
  // gracefully: its close would wait for it, as packet-stream's does)
  let subEnd = Promise.resolve(null)
  if (scenario !== 'server-close') {
    const sub = c.ps.stream()
    subEnd = new Promise((resolve) => { sub.read = (data, end) => { if (end) resolve(end) } })
    sub.write('open')
  }
  r.pending = await timeout(c.ps.request('hold-then-end').then((value) => ({ resolved: value }), (err) => ({ rejected: info(err) })), 5000, 'the pending request')
  r.subEnd = info(await timeout(subEnd, 5000, 'the substream end'))
  r.closed = info(await timeout(c.closed, 5000, 'the session closing'))
  r.socketClose = await timeout(c.socketClosed, 5000, 'socket close')
  r.late = await new Promise((resolve) => c.ps.request('late', (err) => resolve(info(err))))
  await sleep(50)
  r.closes = c.closes
  return r
}

// The server asks the page something whose handler throws: the page's
// session is destroyed with an error that says so, the throw is reported
// (a window 'error' event, through reportError), the page's own pending
// request hears it once, the socket is closed with code 4000.
async function pageThrows () {
  const r = { reported: [] }
  const onerror = (e) => {
    r.reported.push(info(e.error))
    e.preventDefault() // seen here; not an uncaught error of the page
  }
  window.addEventListener('error', onerror)
  const socket = new WebSocket(`ws://${location.host}/ps?s=page-throws`)
  const socketClosed = new Promise((resolve) => socket.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })))
  const closes = []
  let ps
  const closed = new Promise((resolve) => {
    ps = connectWebSocket(socket, {
      request (value, cb) {
        if (value === 'throw-please') throw new Error('the page handler failed on purpose')
        cb(null, value)
      },
      close (err) {
        closes.push(info(err))
        resolve(err)
      }
    })
  })
  const pending = ps.request('hold-forever').then((value) => ({ resolved: value }), (err) => ({ rejected: info(err), cause: info(err.cause) }))
  r.closed = info(await timeout(closed, 5000, 'the session closing'))
  r.pending = await timeout(pending, 5000, 'the pending request')
  r.socketClose = await timeout(socketClosed, 5000, 'socket close')
  await sleep(50)
  window.removeEventListener('error', onerror)
  r.closes = closes
  return r
}

run(async () => {
  await packets.ready
  return {
    talk: await talk(),
    serverClose: await serverEnds('server-close'),
    serverTerminate: await serverEnds('server-terminate'),
    serverErrorClose: await serverEnds('server-error-close'),
    pageThrows: await pageThrows()
  }
})
