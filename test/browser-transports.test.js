'use strict'
// The wire transports in a real browser (Chromium through the harness of
// test/browser/harness.js, one launch for the file):
// - connectWebSocket on a page's native WebSocket against connectWebSocket
//   on a Node `ws` server on the harness's port (test/browser/pages/
//   transports-ws.*): requests both ways, error responses, binary,
//   substreams (for await), a graceful close, the server ending the
//   connection three ways while a request of the page's is pending, and a
//   handler of the page's that throws;
// - connectPort between a page and a dedicated module Worker doing
//   connectPort(self) (transports-port*.mjs): requests and substreams both
//   ways, Uint8Arrays, a turn's frames in pieces, each ArrayBuffer
//   transferred (detached at the sender), a graceful close, and
//   worker.terminate() with requests pending.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { createHarness, ROOT } = require('./browser/harness')
const { connectWebSocket } = require('..')
const { withTimeout } = require('./helpers/wait')
const { pieces, jsonFrame } = require('./helpers/pieces')

let h
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'js', 'browser.mjs')), 'js/browser.mjs exists (bash build.sh setup)')
  h = await createHarness()
})
after(async () => { if (h) await h.close() })

// --- the Node side of the WebSocket page -------------------------------------

// Substreams echoed with for await; requests echoed (bytes reversed), 'fail'
// refused, 'server-asks' turns the questions round, 'hold-then-end' is not
// answered and the connection is ended as the scenario says.
function serveWebSocket (ws, scenario, conns) {
  const conn = { scenario, closeCalls: 0 }
  conn.wsClosed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })))
  let resolveClosed
  conn.closed = new Promise((resolve) => { resolveClosed = resolve })
  const ps = connectWebSocket(ws, {
    request (value, cb) {
      if (Buffer.isBuffer(value)) return cb(null, Buffer.from(value).reverse())
      if (value === 'fail') return cb(new TypeError('refused by the server'))
      if (value === 'hold-forever') return
      if (value === 'server-asks') return asks(ps).then((r) => cb(null, r), (err) => cb(err))
      if (value === 'hold-then-end') {
        setTimeout(() => {
          if (scenario === 'server-close') ps.close((err) => { conn.closeCallback = err || null })
          else if (scenario === 'server-terminate') ws.terminate()
          else ws.close(4000, 'server gave up')
        }, 20)
        return
      }
      cb(null, { echo: value, from: 'server' })
    },
    stream (sub) {
      ;(async () => {
        for await (const x of sub) sub.write(Buffer.isBuffer(x) ? x : { got: x })
        sub.end()
      })().catch((err) => sub.end(err))
    },
    close (err) {
      conn.closeCalls++
      resolveClosed(err)
    }
  })
  conn.ps = ps
  conns[scenario] = conn
  if (scenario === 'page-throws') ps.request('throw-please', (err) => { conn.throwPlease = err })
}

// The server's questions to the page.
async function asks (ps) {
  const json = await ps.request({ q: 1 })
  let fail = null
  try {
    await ps.request('fail')
  } catch (err) {
    fail = { name: err.name, message: err.message, isError: err instanceof Error }
  }
  const bin = await ps.request(Buffer.from([1, 2, 3]))
  const sub = ps.stream()
  sub.write('s1')
  sub.write(Buffer.from([9, 8]))
  sub.end()
  const got = []
  for await (const x of sub) got.push(Buffer.isBuffer(x) ? { bytes: [...x] } : x)
  return { json, fail, bin: { isBuffer: Buffer.isBuffer(bin), bytes: [...bin] }, sub: got }
}

test('browser: connectWebSocket in a page against connectWebSocket on a Node ws server', { timeout: 60000 }, async () => {
  const conns = {}
  const wss = h.webSocketServer('/ps')
  wss.on('connection', (ws, req) => serveWebSocket(ws, new URL(req.url, 'http://x').searchParams.get('s'), conns))
  const r = await h.runPage('transports-ws.html', { timeout: 40000 })

  // the conversation, the page's socket given to connectWebSocket before it opened
  const t = r.talk
  assert.equal(t.readyStateAtConnect, 0)
  assert.deepEqual(t.early, [{ echo: { n: 1 }, from: 'server' }, { echo: 'two', from: 'server' }])
  assert.deepEqual(t.cb, { err: null, value: { echo: [1, 2], from: 'server' } })
  assert.deepEqual(t.fail, { isError: true, name: 'TypeError', message: 'refused by the server', hasRemoteStack: true })
  assert.deepEqual(t.failCb, { err: { isError: false, name: 'TypeError', message: 'refused by the server' }, value: null })
  assert.deepEqual(t.bin, {
    back: { isU8: true, bytes: [255, 254, 128, 127, 2, 1, 0] },
    sent: { isU8: true, bytes: [0, 1, 2, 127, 128, 254, 255] }
  })
  assert.deepEqual(t.big, { length: 1 << 20, reversed: true })
  assert.deepEqual(t.sub, [{ got: 'one' }, { got: { two: 2 } }, { isU8: true, bytes: [0, 1, 2, 127, 128, 254, 255] }])
  assert.deepEqual(t.subBreak, [{ got: 0 }, { got: 1 }])
  assert.deepEqual(t.subBreakEnds, { readEnd: true, writeEnd: true })
  assert.deepEqual(t.serverAsks, {
    json: { echo: { q: 1 }, from: 'page' },
    fail: { name: 'TypeError', message: 'refused by the page', isError: true },
    bin: { isBuffer: true, bytes: [3, 2, 1] },
    sub: [{ got: 's1' }, { bytes: [9, 8] }]
  })
  assert.ok(!t.closeCb, `close callback: ${JSON.stringify(t.closeCb)}`)
  assert.ok(!t.closed)
  assert.deepEqual(t.socketClose, { code: 1000, reason: '' })
  assert.equal(t.closes.length, 1)
  const talk = conns.talk
  assert.ok(!(await withTimeout(talk.closed, 5000, 'the server session of talk')))
  assert.equal((await withTimeout(talk.wsClosed, 5000, 'the server socket of talk')).code, 1000)
  assert.equal(talk.closeCalls, 1)

  // the server ends the connection with a request of the page's pending:
  // it is rejected, the substream ended, the session closed, each once
  const checkEnded = (e, message) => {
    assert.equal(e.first.echo, 'hi')
    assert.equal(e.pending.resolved, undefined)
    assert.equal(e.pending.rejected.isError, true)
    assert.match(e.pending.rejected.message, message)
    if (e.subEnd !== null) assert.deepEqual(e.subEnd, e.pending.rejected)
    assert.deepEqual(e.closed, e.pending.rejected)
    assert.deepEqual(e.closes, [e.pending.rejected])
    assert.equal(e.late.isError, true)
  }
  // gracefully: the goodbye ends the page's session as packet-stream's end does
  checkEnded(r.serverClose, /^unexpected end of parent stream$/)
  assert.equal(r.serverClose.subEnd, null)
  assert.notEqual(r.serverTerminate.subEnd, null)
  assert.notEqual(r.serverErrorClose.subEnd, null)
  assert.deepEqual(r.serverClose.socketClose, { code: 1000, reason: '' })
  const sc = conns['server-close']
  assert.ok(!(await withTimeout(sc.closed, 5000, 'the server session of server-close')))
  assert.equal(sc.closeCallback, null)
  assert.equal((await withTimeout(sc.wsClosed, 5000, 'server socket')).code, 1000)
  // dropped: the page sees 1006
  checkEnded(r.serverTerminate, /websocket closed \(1006\)/)
  assert.equal(r.serverTerminate.socketClose.code, 1006)
  assert.ok((await withTimeout(conns['server-terminate'].closed, 5000, 'server session')) instanceof Error)
  // closed with an error code and a reason
  checkEnded(r.serverErrorClose, /websocket closed \(4000 server gave up\)/)
  assert.deepEqual(r.serverErrorClose.socketClose, { code: 4000, reason: 'server gave up' })
  assert.ok((await withTimeout(conns['server-error-close'].closed, 5000, 'server session')) instanceof Error)

  // a handler of the page's throws: its session is destroyed, the throw
  // reported through reportError, the page's pending request rejected once
  const pt = r.pageThrows
  const thrown = { isError: true, name: 'Error', message: 'the page handler failed on purpose' }
  const destroyed = { isError: true, name: 'Error', message: 'packet-stream-wasm: a handler threw, the session is destroyed: the page handler failed on purpose' }
  assert.deepEqual(pt.reported, [thrown])
  assert.deepEqual(pt.closed, destroyed)
  assert.deepEqual(pt.pending, { rejected: destroyed, cause: thrown })
  assert.deepEqual(pt.closes, [destroyed])
  assert.equal(pt.socketClose.code, 4000)
  const ptc = conns['page-throws']
  const serverErr = await withTimeout(ptc.closed, 5000, 'the server session of page-throws')
  assert.match(serverErr.message, /websocket closed \(4000 packet-stream-wasm: a handler threw/)
  assert.equal(ptc.throwPlease, serverErr, 'the server\'s request heard the close')
  for (const c of Object.values(conns)) assert.equal(c.closeCalls, 1, c.scenario)
})

test('browser: connectPort between a page and a dedicated module Worker (connectPort(self))', { timeout: 60000 }, async () => {
  const r = await h.runPage('transports-port.html', { timeout: 40000 })
  const t = r.talk
  assert.deepEqual(t.where, { worker: true })
  assert.deepEqual(t.json, { echo: { a: [1, 'b'] }, from: 'worker' })
  assert.deepEqual(t.cb, { err: null, value: { echo: 'cb', from: 'worker' } })
  assert.deepEqual(t.fail, { isError: true, name: 'RangeError', message: 'refused by the worker' })
  // a Uint8Array arrives as one; what was sent is still whole (its bytes
  // were copied into the frame; the frame's buffer is what is transferred)
  assert.deepEqual(t.bin, { isU8: true, back: [250, 4, 3, 2, 1], sentLength: 5, sent: [1, 2, 3, 4, 250] })
  // the worker's requests and substream to the page
  assert.deepEqual(t.ask, { echo: { q: 'from the worker' }, from: 'page' })
  assert.deepEqual(t.askFail, { rejected: { name: 'SyntaxError', message: 'refused by the page' } })
  assert.deepEqual(t.askBin, { isU8: true, bytes: [1, 2, 3] })
  assert.deepEqual(t.sub, [{ got: 'x' }, { u8: [5, 6] }])
  assert.deepEqual(t.workerSub, [{ got: 0 }, { got: 1 }, { got: 2 }, { got: 3 }, { u8: [7, 8, 9] }])
  // a turn's frames leave in pieces each way, each ArrayBuffer
  // transferred and detached at the sender: the page's 64 requests as
  // pieces() says, the first within the turn; the worker's answers in no
  // fewer pieces than one turn of all makes, and no more than a turn for
  // each piece of requests makes
  const requestPieces = pieces(Array.from({ length: 64 }, (_, i) => jsonFrame(i)))
  assert.equal(t.postsWithinTurn, requestPieces.length - 1)
  assert.equal(t.answersOk, true)
  assert.deepEqual(t.pageSizesFor64, requestPieces)
  const answerFrames = Array.from({ length: 64 }, (_, i) => jsonFrame({ echo: i, from: 'worker' }))
  assert.ok(t.workerPostsFor64 >= pieces(answerFrames).length && t.workerPostsFor64 <= requestPieces.length * pieces(answerFrames).length, `${t.workerPostsFor64} answer messages`)
  assert.ok(t.pagePosts.count > 10)
  assert.deepEqual(t.pagePosts, { count: t.pagePosts.count, allArrayBuffers: true, allTransferred: true, allDetached: true })
  assert.ok(t.workerStats.posts > 10)
  assert.equal(t.workerStats.notTransferred, 0)
  assert.equal(t.workerStats.notDetached, 0)
  // the page closed gracefully: both sessions ended without error
  assert.ok(!t.closeCb)
  assert.ok(!t.closed)
  assert.deepEqual(t.workerClosed, { closed: null })
  assert.equal(t.closes.length, 1)
  assert.deepEqual(t.errors, [])
  assert.equal(t.closesAfterTerminate, 1)

  // terminate() with requests and a substream pending
  const k = r.terminated
  assert.deepEqual(k.first, { echo: 'ping', from: 'worker' })
  assert.equal(k.pending.rejected.isError, true)
  assert.match(k.pending.rejected.message, /worker terminated/)
  assert.deepEqual(k.subEnd, k.pending.rejected)
  assert.deepEqual(k.closed, k.pending.rejected)
  assert.deepEqual(k.calls, [{ cb: k.pending.rejected, value: undefined }])
  assert.deepEqual(k.closes, [k.pending.rejected])
  assert.equal(k.late.isError, true)

  // ends that no event tells of: each pending request hears once
  const q = r.silent
  const unexpected = { isError: true, name: 'Error', message: 'unexpected end of parent stream' }
  assert.deepEqual(q.selfClose, unexpected, 'the worker\'s self.close() sent the goodbye')
  assert.deepEqual(q.selfCloseCalls, [unexpected])
  assert.deepEqual(q.loadFailed, { isError: true, name: 'Error', message: 'transport failed: worker failed to start' })
  assert.equal(q.loadFailedStack, 'Error: transport failed: worker failed to start', 'the stack says what failed too')
  assert.deepEqual(q.loadFailedCalls, [q.loadFailed])
  assert.deepEqual(q.portClosedA, { isError: true, name: 'Error', message: 'transport failed: port closed' })
  assert.deepEqual(q.portClosedB, unexpected)
  assert.deepEqual(q.portClosedCalls, [['a', q.portClosedA], ['b', unexpected]])
  assert.equal(q.window.name, 'TypeError')
  assert.match(q.window.message, /not a window/)
})
