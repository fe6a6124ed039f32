// The page of test/browser-transports.test.js (postMessage): the page's
// main thread and a dedicated module Worker, connectPort on each side.
import packets, { connectPort } from '/js/browser.mjs'
import { run } from './report.mjs'

const info = (err) => err ? { isError: err instanceof Error, name: err.name, message: err.message } : err
const timeout = (promise, ms, what) => Promise.race([promise,
  new Promise((resolve, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const later = () => new Promise((resolve) => setTimeout(resolve, 0))

// A worker and the page's session with it; every post of the page is
// recorded as it is made.
function start () {
  const worker = new Worker(new URL('./transports-port-worker.mjs', import.meta.url), { type: 'module' })
  const w = { worker, posts: [], closes: [], control: [] }
  const post = worker.postMessage
  worker.postMessage = function (message, transfer) {
    const length = message && message.byteLength
    post.call(this, message, transfer)
    w.posts.push({
      isArrayBuffer: message instanceof ArrayBuffer,
      transferred: Array.isArray(transfer) && transfer.length === 1 && transfer[0] === message,
      length,
      after: message.byteLength
    })
  }
  w.errors = []
  worker.addEventListener('error', (e) => w.errors.push(e.message || 'error event'))
  w.controlMessage = new Promise((resolve) => worker.addEventListener('message', (e) => {
    if (!(e.data instanceof ArrayBuffer)) resolve(e.data)
  }))
  w.closed = new Promise((resolve) => {
    w.ps = connectPort(worker, {
      request (value, cb) {
        if (value instanceof Uint8Array) return cb(null, value.slice().reverse())
        if (value === 'fail') return cb(new SyntaxError('refused by the page'))
        cb(null, { echo: value, from: 'page' })
      },
      stream (sub) {
        sub.read = (data, end) => {
          if (end) sub.end()
          else sub.write(data instanceof Uint8Array ? data : { got: data })
        }
      },
      close (err) {
        w.closes.push(info(err))
        resolve(err)
      }
    })
  })
  return w
}

async function talk () {
  const r = {}
  const w = start()
  const { ps } = w
  r.where = await timeout(ps.request('where'), 10000, 'the worker answering')
  r.json = await ps.request({ a: [1, 'b'] })
  r.cb = await new Promise((resolve) => ps.request('cb', (err, value) => resolve({ err, value })))
  try {
    await ps.request('fail')
    r.fail = 'resolved'
  } catch (err) {
    r.fail = info(err)
  }
  // binary: a Uint8Array arrives as one; what the page sent is intact
  const u8 = new Uint8Array([1, 2, 3, 4, 250])
  const back = await ps.request(u8)
  r.bin = { isU8: back instanceof Uint8Array, back: Array.from(back), sentLength: u8.byteLength, sent: Array.from(u8) }
  // the worker asks the page
  r.ask = await ps.request({ ask: { q: 'from the worker' } })
  r.askFail = await ps.request({ ask: 'fail' })
  const askBin = await ps.request({ askBytes: [3, 2, 1] }) // the worker sends bytes to the page
  r.askBin = { isU8: askBin instanceof Uint8Array, bytes: Array.from(askBin) }
  // substreams: the page's, read with for await; the worker's
  const sub = ps.stream()
  sub.write('x')
  sub.write(new Uint8Array([5, 6]))
  sub.end()
  r.sub = []
  for await (const x of sub) r.sub.push(x instanceof Uint8Array ? { u8: Array.from(x) } : x)
  r.workerSub = await ps.request({ stream: 4 })
  // 64 requests in one turn: they leave in pieces, the first
  // within the turn
  const statsBefore = await ps.request('stats')
  await later()
  const mid = w.posts.length
  const answers = []
  for (let i = 0; i < 64; i++) answers.push(ps.request(i))
  r.postsWithinTurn = w.posts.length - mid
  const values = await timeout(Promise.all(answers), 5000, '64 answers')
  r.answersOk = values.length === 64 && values.every((v, i) => v.echo === i && v.from === 'worker')
  await later()
  r.pageSizesFor64 = w.posts.slice(mid).map((p) => p.length)
  const statsAfter = await ps.request('stats')
  // the worker's posts between the two snapshots: the first stats answer, then the 64 answers
  r.workerPostsFor64 = statsAfter.posts - statsBefore.posts - 1
  r.workerStats = statsAfter
  r.pagePosts = {
    count: w.posts.length,
    allArrayBuffers: w.posts.every((p) => p.isArrayBuffer),
    allTransferred: w.posts.every((p) => p.transferred),
    allDetached: w.posts.every((p) => p.length > 0 && p.after === 0)
  }
  // a graceful close from the page: the worker's session closes cleanly
  r.closeCb = info(await timeout(new Promise((resolve) => ps.close(resolve)), 5000, 'close'))
  r.closed = info(await w.closed)
  r.workerClosed = await timeout(w.controlMessage, 5000, 'the worker reporting its close')
  r.closes = w.closes
  r.errors = w.errors
  w.worker.terminate() // connectPort gave terminate back on close: nothing more happens
  await sleep(20)
  r.closesAfterTerminate = w.closes.length
  return r
}

async function terminated () {
  const r = {}
  const w = start()
  r.first = await timeout(w.ps.request('ping'), 10000, 'ping')
  const calls = []
  w.ps.request('hold', (err, value) => calls.push({ cb: info(err), value }))
  const pending = w.ps.request('hold').then((value) => ({ resolved: value }), (err) => ({ rejected: info(err) }))
  const sub = w.ps.stream()
  const subEnd = new Promise((resolve) => { sub.read = (data, end) => { if (end) resolve(end) } })
  sub.write('open')
  await w.ps.request('ping') // the worker has them all
  w.worker.terminate()
  r.pending = await timeout(pending, 5000, 'the pending request')
  r.subEnd = info(await timeout(subEnd, 5000, 'the substream'))
  r.closed = info(await timeout(w.closed, 5000, 'the session'))
  await sleep(50)
  r.calls = calls
  r.closes = w.closes
  r.late = await new Promise((resolve) => w.ps.request('late', (err) => resolve(info(err))))
  return r
}

// Ends no event tells of: the worker's self.close(), a worker whose script
// does not load, a MessagePort's close(). Each pending request hears once.
async function silentEnds () {
  const r = {}
  {
    const w = start()
    await timeout(w.ps.request('ping'), 10000, 'ping')
    const calls = []
    w.ps.request('hold', (err) => calls.push(info(err)))
    w.ps.request('selfclose', () => {})
    r.selfClose = info(await timeout(w.closed, 5000, 'the session after self.close()'))
    await sleep(50)
    r.selfCloseCalls = calls
  }
  {
    const worker = new Worker('/no-such-worker.mjs', { type: 'module' })
    const calls = []
    const closed = new Promise((resolve) => {
      const ps = connectPort(worker, { close: resolve })
      ps.request('anyone?', (err) => calls.push(info(err)))
    })
    const failed = await timeout(closed, 5000, 'the session of a worker that did not load')
    r.loadFailed = info(failed)
    r.loadFailedStack = failed.stack.split('\n')[0]
    await sleep(50)
    r.loadFailedCalls = calls
  }
  {
    const { port1, port2 } = new MessageChannel()
    const calls = []
    const closedA = new Promise((resolve) => {
      const a = connectPort(port1, { request () {}, close: resolve })
      a.request('hold', (err) => calls.push(['a', info(err)]))
    })
    const closedB = new Promise((resolve) => {
      const b = connectPort(port2, { request () {}, close: resolve })
      b.request('hold', (err) => calls.push(['b', info(err)]))
    })
    await sleep(20)
    port1.close()
    r.portClosedA = info(await timeout(closedA, 5000, 'the session whose port closed'))
    r.portClosedB = info(await timeout(closedB, 5000, 'the session at the other end'))
    await sleep(50)
    r.portClosedCalls = calls.sort()
  }
  // the page's own window has postMessage too, but posts to itself: refused
  try {
    connectPort(self, {})
    r.window = 'accepted'
  } catch (err) {
    r.window = info(err)
  }
  return r
}

run(async () => {
  await packets.ready
  return { talk: await talk(), terminated: await terminated(), silent: await silentEnds() }
})
