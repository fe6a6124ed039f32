'use strict'
// connectWebSocket over Node's `ws` on 127.0.0.1: a WebSocketServer whose
// connections are served by connectWebSocket, and clients given to
// connectWebSocket before and after their 'open'. Requests both ways
// (callbacks and promises), error responses, substreams both ways (also
// read with `for await`), binary values, a 4 MiB body; one turn's frames in
// one WebSocket message; the goodbye and close code 1000 on a graceful
// close; what the client's session does when the server drops the socket,
// closes it with an error code, sends text or bad bytes; back pressure.
const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const { WebSocketServer, WebSocket } = require('ws')
const { connectWebSocket } = require('..')
const { withTimeout, deferred, sleep, tick, until } = require('./helpers/wait')

const T = { timeout: 20000 }
const GOODBYE_HEX = '00'.repeat(9)

const bytes = (n, seed = 1) => {
  const b = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}

// The handlers both sides serve: requests answered with an echo (binary
// reversed), 'fail' with a TypeError, 'hold' never; substreams echoed
// (each value wrapped) until the peer ends.
function service (where, extra = {}) {
  return {
    request (value, cb) {
      if (Buffer.isBuffer(value)) return cb(null, Buffer.from(value).reverse())
      if (value === 'fail') return cb(new TypeError(`refused by ${where}`))
      if (value === 'hold') return
      cb(null, { echo: value, from: where })
    },
    stream (sub) {
      // the server side reads with for await, the client side with read
      if (where === 'server') {
        ;(async () => {
          for await (const x of sub) sub.write(Buffer.isBuffer(x) ? x : { got: x })
          sub.end()
        })().catch((err) => sub.end(err))
      } else {
        sub.read = (data, end) => {
          if (end) sub.end(end === true ? undefined : end)
          else sub.write(Buffer.isBuffer(data) ? data : { got: data })
        }
      }
    },
    ...extra
  }
}

// A WebSocketServer on 127.0.0.1 whose connections are served by
// connectWebSocket. conns resolves in order of connection to
// { ws, ps, closed (the session's close error), wsClosed ({code, reason}),
// received (the binary messages the server socket got) }.
async function startServer (serverOpts = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const waiting = []
  const ready = []
  wss.on('connection', (ws) => {
    const conn = { ws, received: [], closeCalls: 0 }
    const closed = deferred()
    const wsClosed = deferred()
    conn.closed = closed.promise
    conn.wsClosed = wsClosed.promise
    // counted on the socket itself, alongside connectWebSocket's listener
    ws.on('message', (data, isBinary) => conn.received.push(isBinary ? Buffer.from(data) : String(data)))
    ws.on('close', (code, reason) => wsClosed.resolve({ code, reason: String(reason) }))
    const opts = typeof serverOpts === 'function' ? serverOpts(conn) : serverOpts
    conn.ps = connectWebSocket(ws, {
      ...service('server'),
      ...opts,
      close (err) {
        conn.closeCalls++
        closed.resolve(err)
        if (opts.close) opts.close(err)
      }
    })
    if (waiting.length) waiting.shift()(conn)
    else ready.push(conn)
  })
  return {
    wss,
    url: `ws://127.0.0.1:${wss.address().port}`,
    next: () => withTimeout(ready.length ? Promise.resolve(ready.shift()) : new Promise((resolve) => waiting.push(resolve)), 5000, 'a connection'),
    close: () => new Promise((resolve) => {
      for (const ws of wss.clients) ws.terminate()
      wss.close(() => resolve())
    })
  }
}

// A client socket and its session; afterOpen: connect only once it opened.
async function startClient (url, { afterOpen = false, opts = {} } = {}) {
  const ws = new WebSocket(url)
  const c = { ws, received: [], closeCalls: 0 }
  const closed = deferred()
  const wsClosed = deferred()
  c.closed = closed.promise
  c.wsClosed = wsClosed.promise
  ws.on('message', (data, isBinary) => c.received.push(isBinary ? Buffer.from(data) : String(data)))
  ws.on('close', (code, reason) => wsClosed.resolve({ code, reason: String(reason) }))
  ws.on('error', () => {}) // seen by the session through its 'error' event listener
  if (afterOpen) await withTimeout(once(ws, 'open'), 5000, 'the client socket opening')
  c.ps = connectWebSocket(ws, {
    ...service('client'),
    ...opts,
    close (err) {
      c.closeCalls++
      closed.resolve(err)
      if (opts.close) opts.close(err)
    }
  })
  return c
}

// The conversation both clients go through: everything both ways.
async function conversation (client, conn, { early = [] } = {}) {
  // requests issued before the socket opened
  const earlyAnswers = await withTimeout(Promise.all(early), 5000, 'requests issued before open')
  assert.deepEqual(earlyAnswers, early.map((_, i) => ({ echo: { early: i }, from: 'server' })))

  // client -> server, promise form and callback form
  assert.deepEqual(await client.ps.request({ a: 1 }), { echo: { a: 1 }, from: 'server' })
  const viaCb = await new Promise((resolve) => client.ps.request('hi', (err, value) => resolve({ err, value })))
  assert.deepEqual(viaCb, { err: null, value: { echo: 'hi', from: 'server' } })
  // server -> client
  assert.deepEqual(await conn.ps.request([1, 2, 3]), { echo: [1, 2, 3], from: 'client' })
  const back = await new Promise((resolve) => conn.ps.request(null, (err, value) => resolve({ err, value })))
  assert.deepEqual(back, { err: null, value: { echo: null, from: 'client' } })

  // error responses: a promise rejects with an Error named as the peer's
  await assert.rejects(client.ps.request('fail'), (err) => {
    assert.ok(err instanceof Error)
    assert.equal(err.name, 'TypeError')
    assert.equal(err.message, 'refused by server')
    assert.match(err.remoteStack, /TypeError: refused by server/)
    return true
  })
  await assert.rejects(conn.ps.request('fail'), { name: 'TypeError', message: 'refused by client' })
  // a callback gets it flattened, as packet-stream gives it
  const flat = await new Promise((resolve) => client.ps.request('fail', (err, value) => resolve({ err, value })))
  assert.equal(flat.value, null)
  assert.equal(flat.err instanceof Error, false)
  assert.equal(flat.err.name, 'TypeError')
  assert.equal(flat.err.message, 'refused by server')

  // binary both ways: Buffers and plain Uint8Arrays arrive as Buffers
  const u8 = new Uint8Array([0, 1, 2, 127, 128, 254, 255])
  const r1 = await client.ps.request(u8)
  assert.ok(Buffer.isBuffer(r1))
  assert.deepEqual([...r1], [...u8].reverse())
  const r2 = await conn.ps.request(Buffer.from('bytes!'))
  assert.ok(Buffer.isBuffer(r2))
  assert.equal(r2.toString(), '!setyb')

  // a 4 MiB body each way, in one request and its response
  const big = bytes(4 << 20, 7)
  const bigBack = await withTimeout(client.ps.request(big), 10000, 'the 4 MiB request')
  assert.equal(bigBack.length, big.length)
  assert.ok(Buffer.from(big).reverse().equals(bigBack))
  const bigBack2 = await withTimeout(conn.ps.request(big), 10000, 'the 4 MiB request from the server')
  assert.ok(Buffer.from(big).reverse().equals(bigBack2))

  // a substream opened by the client, served with for await, read with for await
  const sub = client.ps.stream()
  sub.write('one')
  sub.write({ two: 2 })
  sub.write(u8)
  sub.write(big)
  sub.end()
  const got = []
  await withTimeout((async () => { for await (const x of sub) got.push(x) })(), 10000, 'the client substream')
  assert.equal(got.length, 4)
  assert.deepEqual(got.slice(0, 2), [{ got: 'one' }, { got: { two: 2 } }])
  assert.deepEqual([...got[2]], [...u8])
  assert.ok(got[3].equals(big))
  assert.equal(sub.readEnd, true)
  assert.equal(sub.writeEnd, true)

  // a substream opened by the server, served with read, read with for await
  const down = conn.ps.stream()
  for (let i = 0; i < 100; i++) down.write(i)
  down.end()
  const downGot = []
  await withTimeout((async () => { for await (const x of down) downGot.push(x) })(), 5000, 'the server substream')
  assert.deepEqual(downGot, Array.from({ length: 100 }, (_, i) => ({ got: i })))

  // leaving a for await early ends the substream at both ends
  const serverSaw = deferred()
  const serve = conn.ps.opts.stream
  conn.ps.opts.stream = (s) => {
    ;(async () => {
      const seen = []
      for await (const x of s) {
        seen.push(x)
        s.write({ got: x })
      }
      s.end()
      serverSaw.resolve(seen)
    })().catch((err) => serverSaw.resolve(err))
  }
  const sub3 = client.ps.stream()
  const sub3Seen = []
  sub3.write('a')
  sub3.write('b')
  sub3.write('c')
  for await (const x of sub3) {
    sub3Seen.push(x)
    if (sub3Seen.length === 2) break
  }
  assert.deepEqual(sub3Seen, [{ got: 'a' }, { got: 'b' }])
  assert.equal(sub3.writeEnd, true)
  // the server's loop ended normally, having seen everything sent; its end
  // finishes the substream here (what it echoed meanwhile was dropped)
  assert.deepEqual(await withTimeout(serverSaw.promise, 5000, 'the server seeing the end'), ['a', 'b', 'c'])
  await until(() => sub3.readEnd, 5000, 'the server\'s end of the substream')
  conn.ps.opts.stream = serve

  // messages both ways
  const msgs = []
  const gotMsgs = deferred()
  client.ps.opts.message = (m) => { msgs.push(['client', m]); if (msgs.length === 2) gotMsgs.resolve() }
  conn.ps.opts.message = (m) => { msgs.push(['server', m]); if (msgs.length === 2) gotMsgs.resolve() }
  client.ps.message('to server')
  conn.ps.message({ to: 'client' })
  await withTimeout(gotMsgs.promise, 5000, 'messages')
  assert.deepEqual(msgs.sort(), [['client', { to: 'client' }], ['server', 'to server']])
}

async function gracefulClose (client, conn) {
  const cb = await withTimeout(new Promise((resolve) => client.ps.close((err) => resolve(err))), 5000, 'close callback')
  assert.ok(!cb, `no error in the close callback: ${cb}`)
  assert.ok(!(await withTimeout(client.closed, 5000, 'the client session ending')))
  assert.ok(!(await withTimeout(conn.closed, 5000, 'the server session ending')))
  assert.deepEqual(await withTimeout(client.wsClosed, 5000, 'the client socket closing'), { code: 1000, reason: '' })
  assert.deepEqual(await withTimeout(conn.wsClosed, 5000, 'the server socket closing'), { code: 1000, reason: '' })
  // the last thing the server got was the goodbye
  const last = conn.received[conn.received.length - 1]
  assert.ok(Buffer.isBuffer(last))
  assert.equal(last.subarray(last.length - 9).toString('hex'), GOODBYE_HEX)
  assert.equal(client.closeCalls, 1)
  assert.equal(conn.closeCalls, 1)
  assert.ok(conn.ps.ended)
}

test('a client connected before open: everything both ways, then a graceful close', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url)
    assert.equal(client.ws.readyState, WebSocket.CONNECTING)
    // issued before the socket opened: queued, sent once it opens
    const early = [0, 1, 2].map((i) => client.ps.request({ early: i }))
    const conn = await server.next()
    await conversation(client, conn, { early })
    await gracefulClose(client, conn)
  } finally {
    await server.close()
  }
})

test('a client connected after open: everything both ways, then the server closes gracefully', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url, { afterOpen: true })
    assert.equal(client.ws.readyState, WebSocket.OPEN)
    const conn = await server.next()
    await conversation(client, conn)
    // the server closes: the goodbye reaches the client, both end cleanly
    const cb = await withTimeout(new Promise((resolve) => conn.ps.close((err) => resolve(err))), 5000, 'close callback')
    assert.ok(!cb)
    assert.ok(!(await withTimeout(client.closed, 5000, 'the client session ending')))
    assert.ok(!(await withTimeout(conn.closed, 5000, 'the server session ending')))
    assert.equal((await withTimeout(client.wsClosed, 5000, 'client socket')).code, 1000)
    assert.equal((await withTimeout(conn.wsClosed, 5000, 'server socket')).code, 1000)
    const last = client.received[client.received.length - 1]
    assert.equal(last.subarray(last.length - 9).toString('hex'), GOODBYE_HEX)
  } finally {
    await server.close()
  }
})

test('close before the socket opened: the goodbye goes once it opens, close code 1000', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url)
    const answer = client.ps.request('early')
    const closing = new Promise((resolve) => client.ps.close((err) => resolve(err)))
    const conn = await server.next()
    assert.deepEqual(await withTimeout(answer, 5000, 'the early request'), { echo: 'early', from: 'server' })
    assert.ok(!(await withTimeout(closing, 5000, 'close callback')))
    assert.ok(!(await withTimeout(conn.closed, 5000, 'the server session')))
    assert.equal((await withTimeout(conn.wsClosed, 5000, 'server socket')).code, 1000)
    assert.equal((await withTimeout(client.wsClosed, 5000, 'client socket')).code, 1000)
  } finally {
    await server.close()
  }
})

test('frames of one turn leave in one WebSocket message, both ways', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    await client.ps.request('warm up')
    await tick()
    conn.received.length = 0
    client.received.length = 0
    const N = 200
    // N requests and a message, issued in one turn
    const answers = []
    for (let i = 0; i < N; i++) answers.push(client.ps.request(i))
    client.ps.message('and a message')
    const values = await withTimeout(Promise.all(answers), 5000, 'the answers')
    assert.deepEqual(values, Array.from({ length: N }, (_, i) => ({ echo: i, from: 'server' })))
    await sleep(50) // nothing else trickles in
    assert.equal(conn.received.length, 1, 'the server socket got one message')
    assert.equal(client.received.length, 1, 'the answers (given in one turn) came in one message')
    // 9-byte headers plus the JSON bodies
    const expected = Array.from({ length: N }, (_, i) => 9 + String(i).length).reduce((a, b) => a + b, 0) + 9 + 'and a message'.length
    assert.equal(conn.received[0].length, expected)

    // one turn of substream writes from the server: one message
    conn.received.length = 0
    client.received.length = 0
    const sub = conn.ps.stream()
    for (let i = 0; i < 50; i++) sub.write(i)
    sub.end()
    const got = []
    for await (const x of sub) got.push(x)
    assert.equal(got.length, 50)
    await sleep(50)
    assert.equal(client.received.length, 1)
    await gracefulClose(client, conn)
  } finally {
    await server.close()
  }
})

test('the server closes gracefully while a request of the client is pending: rejected, close code 1000 both ways', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    conn.ps.opts.request = (value, cb) => {
      if (value !== 'hold') return cb(null, value)
      // not answered: packet-stream's close does not wait for the peer's requests
      conn.ps.close((err) => { conn.closeCallback = err || null })
    }
    const calls = []
    client.ps.request('hold', (err, value) => calls.push([err, value]))
    const err = await withTimeout(client.closed, 5000, 'the client session')
    assert.ok(err instanceof Error)
    assert.equal(err.message, 'unexpected end of parent stream')
    await sleep(50)
    assert.deepEqual(calls, [[err, undefined]])
    assert.ok(!(await withTimeout(conn.closed, 5000, 'the server session')))
    assert.equal(conn.closeCallback, null)
    // the client's session failed, but the connection ended as the server
    // asked: normally, on both sides
    assert.deepEqual(await withTimeout(conn.wsClosed, 5000, 'the server socket'), { code: 1000, reason: '' })
    assert.deepEqual(await withTimeout(client.wsClosed, 5000, 'the client socket'), { code: 1000, reason: '' })
  } finally {
    await server.close()
  }
})

// The server drops the connection in some way while the client waits for
// answers: each pending request hears a clear error exactly once, a
// substream hears it once, the session closes with it.
for (const how of ['terminate', 'close 1011', 'close 4000', 'close 1001']) {
  test(`the server ends the socket mid-request (${how}): pending requests rejected once`, T, async () => {
    const server = await startServer()
    try {
      const client = await startClient(server.url, { afterOpen: true })
      const conn = await server.next()
      const calls = []
      const gotThem = deferred()
      const sent = []
      conn.ps.opts.request = (value, cb) => {
        sent.push(value)
        if (sent.length === 3) gotThem.resolve()
      }
      client.ps.request('hold-1', (err, value) => calls.push(['cb', err, value]))
      client.ps.request('hold-2', (err, value) => calls.push(['cb', err, value]))
      const promised = client.ps.request('hold-3').then(
        (value) => calls.push(['resolved', value]),
        (err) => calls.push(['rejected', err]))
      const sub = client.ps.stream()
      sub.read = (data, end) => calls.push(['sub', data, end])
      sub.write('open')
      await withTimeout(gotThem.promise, 5000, 'the requests reaching the server')
      if (how === 'terminate') conn.ws.terminate()
      else conn.ws.close(Number(how.split(' ')[1]), 'server says no')
      const err = await withTimeout(client.closed, 5000, 'the client session closing')
      await promised
      await sleep(100) // nothing more comes
      assert.ok(err instanceof Error, 'the session closed with an error')
      const code = how === 'terminate' ? 1006 : Number(how.split(' ')[1])
      assert.match(err.message, new RegExp(`websocket closed \\(${code}`))
      if (how !== 'terminate') assert.match(err.message, /server says no/)
      // the echo of 'open' may come first: what the server had framed before
      // its close() leaves before the close frame
      const ends = calls.filter((c) => !(c[0] === 'sub' && !c[2]))
      assert.deepEqual(calls.filter((c) => c[0] === 'sub' && !c[2]), calls.length === 5 ? [['sub', { got: 'open' }, undefined]] : [])
      assert.equal(ends.length, 4, JSON.stringify(calls))
      // each pending thing heard the session's error, once
      assert.deepEqual(ends.filter((c) => c[0] === 'cb'), [['cb', err, undefined], ['cb', err, undefined]])
      assert.deepEqual(ends.filter((c) => c[0] === 'rejected'), [['rejected', err]])
      assert.deepEqual(ends.filter((c) => c[0] === 'sub'), [['sub', null, err]])
      assert.equal(client.closeCalls, 1)
      assert.equal(client.ps.ended, err)
      assert.equal((await withTimeout(client.wsClosed, 5000, 'client socket')).code, code)
      // the server's own session ended too, with an error of its own
      const serverErr = await withTimeout(conn.closed, 5000, 'the server session')
      assert.ok(serverErr instanceof Error)
      // a request after the end fails at once
      const late = await new Promise((resolve) => client.ps.request('late', (e) => resolve(e)))
      assert.ok(late instanceof Error)
    } finally {
      await server.close()
    }
  })
}

test('a text message destroys the session with an error (close code 4000)', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    conn.ps.opts.request = () => {} // holds
    const pending = client.ps.request('hold')
    const outcome = pending.then(() => 'resolved', (err) => err)
    await sleep(20)
    conn.ws.send('this is text')
    const err = await withTimeout(client.closed, 5000, 'the client session closing')
    assert.ok(err instanceof Error)
    assert.match(err.message, /text message/)
    assert.equal(await outcome, err)
    const closedWith = await withTimeout(conn.wsClosed, 5000, 'the server socket closing')
    assert.equal(closedWith.code, 4000)
    assert.match(closedWith.reason, /text message/)
    assert.ok((await withTimeout(conn.closed, 5000, 'the server session')) instanceof Error)
    assert.equal(client.closeCalls, 1)
  } finally {
    await server.close()
  }
})

test('a server handler that throws: its session is destroyed, close code 4000 says why, the client\'s pending requests rejected once', T, async () => {
  const server = await startServer()
  const warned = new Promise((resolve) => process.once('warning', resolve))
  try {
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    conn.ps.opts.request = (value, cb) => {
      if (value === 'throw') throw new Error('the server handler failed on purpose')
      if (value !== 'hold') cb(null, value)
    }
    const held = client.ps.request('hold').then(() => 'resolved', (err) => err)
    const thrown = client.ps.request('throw').then(() => 'resolved', (err) => err)
    const serverErr = await withTimeout(conn.closed, 5000, 'the server session')
    assert.equal(serverErr.message, 'packet-stream-wasm: a handler threw, the session is destroyed: the server handler failed on purpose')
    assert.equal((await withTimeout(warned, 5000, 'the warning')).message, 'the server handler failed on purpose')
    const closedWith = await withTimeout(conn.wsClosed, 5000, 'the server socket closing')
    assert.equal(closedWith.code, 4000)
    assert.match(closedWith.reason, /a handler threw/)
    const err = await withTimeout(client.closed, 5000, 'the client session closing')
    assert.match(err.message, /websocket closed \(4000 packet-stream-wasm: a handler threw/)
    assert.equal(await held, err)
    assert.equal(await thrown, err)
    await sleep(20)
    assert.equal(client.closeCalls, 1)
  } finally {
    await server.close()
  }
})

test('a socket that has already closed: the session fails at once, a request made right away is rejected once', T, async () => {
  const server = await startServer()
  try {
    const ws = new WebSocket(server.url)
    ws.on('error', () => {})
    await withTimeout(once(ws, 'open'), 5000, 'open')
    ws.close(1000)
    await withTimeout(once(ws, 'close'), 5000, 'close')
    const closes = []
    const ps = connectWebSocket(ws, { close (err) { closes.push(err) } })
    const outcome = ps.request('too late').then(() => 'resolved', (err) => err)
    const err = await withTimeout(outcome, 5000, 'the request to fail')
    assert.ok(err instanceof Error)
    assert.equal(err.message, 'transport failed: websocket already closed')
    await sleep(20)
    assert.deepEqual(closes, [err])
    assert.equal(ps.ended, err)
  } finally {
    await server.close()
  }
})

test('bad bytes (body type 3) destroy the session with a protocol error (close code 4002)', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    const pending = client.ps.request('hold').then(() => 'resolved', (err) => err)
    conn.ps.opts.request = () => {}
    await sleep(20)
    // flags 3 (an unknown body type), length 1, request 1
    conn.ws.send(Buffer.from([3, 0, 0, 0, 1, 0, 0, 0, 1, 0x41]))
    const err = await withTimeout(client.closed, 5000, 'the client session closing')
    assert.ok(err instanceof Error)
    assert.equal(typeof err.code, 'number')
    assert.equal(await pending, err)
    assert.equal((await withTimeout(conn.wsClosed, 5000, 'the server socket')).code, 4002)
  } finally {
    await server.close()
  }
})

test('a socket that fails after its session ended does not take the server down', T, async () => {
  // a raw client: the upgrade, a frame the session refuses (body type 3),
  // then a frame ws itself refuses (unmasked, from a client) once the
  // session has ended and let go of the socket
  const net = require('node:net')
  const server = await startServer()
  try {
    const raw = net.connect(server.wss.address().port, '127.0.0.1')
    raw.on('error', () => {})
    await once(raw, 'connect')
    raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    const conn = await server.next()
    // the socket's 'error' events, seen without a listener of our own
    const errors = []
    const emit = conn.ws.emit
    conn.ws.emit = function (type, ...args) {
      if (type === 'error') errors.push(args[0])
      return emit.call(this, type, ...args)
    }
    const mask = [1, 2, 3, 4]
    const packet = [3, 0, 0, 0, 1, 0, 0, 0, 1, 0x41]
    raw.write(Buffer.from([0x82, 0x80 | packet.length, ...mask, ...packet.map((b, i) => b ^ mask[i % 4])]))
    const err = await withTimeout(conn.closed, 5000, 'the server session')
    assert.match(err.message, /type 3/)
    assert.equal(conn.closeCalls, 1)
    raw.write(Buffer.from([0x82, 0x01, 0x41])) // unmasked: ws fails the socket with an 'error'
    while (errors.length === 0) await sleep(5)
    assert.match(errors[0].message, /MASK/)
    assert.equal(conn.ws.listenerCount('error'), 1) // the session's, kept after its end
    raw.destroy()
    await withTimeout(conn.wsClosed, 5000, 'the server socket closing')
    // the process is still up, and the server still serves
    const client = await startClient(server.url)
    assert.deepEqual(await withTimeout(client.ps.request('still there?'), 5000, 'a request to the server'), { echo: 'still there?', from: 'server' })
    client.ps.close(() => {})
  } finally {
    await server.close()
  }
})

test('a session ended before its socket opened: a refused connection takes nothing down', T, async () => {
  // nothing listens on this port any more
  const net = require('node:net')
  const srv = net.createServer()
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = srv.address().port
  await new Promise((resolve) => srv.close(resolve))
  for (const how of ['close', 'destroy']) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`) // no 'error' listener of its own
    const closed = deferred()
    const ps = connectWebSocket(ws, { close: (err) => closed.resolve(err) })
    const answer = ps.request('anyone?').then(() => 'resolved', (err) => err)
    if (how === 'close') ps.close(() => {})
    else ps.destroy(new Error('changed my mind'))
    const wsClosed = new Promise((resolve) => ws.on('close', resolve)) // events.once would listen for 'error'
    await withTimeout(wsClosed, 5000, `the socket closing (${how})`)
    const err = await withTimeout(closed.promise, 5000, `the session (${how})`)
    assert.ok(await answer instanceof Error, how)
    if (how === 'destroy') assert.equal(err.message, 'changed my mind')
  }
})

test('destroyed before the socket opened, with a reason or without: nothing that was framed reaches the server', T, async () => {
  const server = await startServer()
  const seen = []
  server.wss.on('connection', (ws) => ws.on('message', (data) => seen.push(Buffer.from(data))))
  try {
    for (const reason of [new Error('changed my mind'), undefined]) {
      const client = await startClient(server.url)
      const answer = new Promise((resolve) => client.ps.request('early', (err, value) => resolve([err, value])))
      client.ps.message('early message')
      client.ps.destroy(reason)
      assert.deepEqual(await answer, [reason, undefined]) // no reason: undefined, as in 2.0.6
      const { code } = await withTimeout(client.wsClosed, 5000, 'the client socket closing')
      assert.notEqual(code, 1000)
    }
    await sleep(100)
    assert.deepEqual(seen, [])
  } finally {
    await server.close()
  }
})

test('back pressure before the socket opened: what waits for the open counts as buffered, and drains once it opens', T, async () => {
  // a server that holds the upgrade until told
  const http = require('node:http')
  const httpServer = http.createServer()
  const wss = new WebSocketServer({ noServer: true })
  const release = deferred()
  const done = deferred()
  let received = 0
  httpServer.on('upgrade', (req, sock, head) => release.promise.then(() => wss.handleUpgrade(req, sock, head, (ws) => {
    connectWebSocket(ws, {
      stream (sub) {
        sub.read = (data, end) => {
          if (!end) return void (received += data.length)
          sub.write(received)
          sub.end()
          done.resolve()
        }
      }
    })
  })))
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const HIGH = 256 << 10
  const CHUNK = 64 << 10
  const TOTAL = 4 << 20
  try {
    const client = await startClient(`ws://127.0.0.1:${httpServer.address().port}`, { opts: { highWaterMark: HIGH } })
    const sub = client.ps.stream()
    const replies = sub[Symbol.asyncIterator]()
    const chunk = Buffer.alloc(CHUNK, 0x5a)
    let firstWait = -1
    for (let sent = 0; sent < TOTAL;) {
      sub.write(chunk)
      sent += CHUNK
      await new Promise((resolve) => setImmediate(resolve)) // the turn ends: its frames leave
      if (!client.ps.writable) {
        if (firstWait === -1) {
          firstWait = sent
          assert.equal(client.ws.readyState, WebSocket.CONNECTING)
          release.resolve()
        }
        await withTimeout(client.ps.drained(), 5000, 'drained')
      }
    }
    assert.ok(firstWait >= HIGH && firstWait <= HIGH + 2 * CHUNK, `the producer waited first after ${firstWait} bytes`)
    sub.end()
    const reply = await withTimeout(replies.next(), 10000, 'the byte count')
    await withTimeout(done.promise, 1000, 'the end')
    assert.equal(reply.value, TOTAL)
    await gracefulCloseQuiet(client)
  } finally {
    release.resolve()
    for (const ws of wss.clients) ws.terminate()
    await new Promise((resolve) => httpServer.close(resolve))
  }
})

test('the caller\'s own socket.close() ends the session at once, without waiting for the closing handshake (a peer that stopped reading never answers it)', T, async () => {
  const server = await startServer()
  try {
    for (const [code, reason] of [[undefined, undefined], [1000, undefined], [4001, 'going']]) {
      const client = await startClient(server.url, { afterOpen: true })
      const conn = await server.next()
      const calls = []
      client.ps.request('hold', (err) => calls.push(err))
      await withTimeout(client.ps.request('ping'), 5000, 'the server has the request')
      conn.ws.pause() // the server stops reading: no close frame will be answered
      client.ws.close(code, reason)
      // ended within the call (a normal close, so that the goodbye leaves)
      // or right after it (any other code: the socket may refuse it, and
      // ws says why it closes only just after), not when the socket closes
      if (code === 4001) {
        assert.equal(client.closeCalls, 0)
        await null
      }
      assert.equal(client.closeCalls, 1)
      assert.equal(calls.length, 1)
      const err = await client.closed
      assert.equal(calls[0], err)
      if (code === 4001) assert.equal(err.message, 'transport failed: websocket closed (4001 going)')
      else assert.equal(err.message, 'unexpected end of parent stream')
      assert.equal(client.ws.readyState, WebSocket.CLOSING)
      assert.ok(!Object.prototype.hasOwnProperty.call(client.ws, 'close'), 'close() given back')
      conn.ws.terminate()
      await withTimeout(client.wsClosed, 5000, 'the socket closing')
      await sleep(20)
      assert.equal(client.closeCalls, 1)
    }
  } finally {
    await server.close()
  }
})

test('an error whose message does not fit a close frame: cut to 123 bytes of UTF-8, the socket closes all the same', T, async () => {
  const server = await startServer()
  const warned = new Promise((resolve) => process.once('warning', resolve))
  try {
    // a server handler that throws: the server's session is destroyed
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    const long = 'ошибка '.repeat(20)
    conn.ps.opts.request = () => { throw new Error(long) }
    const answer = client.ps.request('x').then(() => 'resolved', (err) => err)
    const closedWith = await withTimeout(conn.wsClosed, 5000, 'the server socket closing')
    assert.equal(closedWith.code, 4000)
    assert.ok(Buffer.byteLength(closedWith.reason) <= 123, closedWith.reason)
    assert.ok(('packet-stream-wasm: a handler threw, the session is destroyed: ' + long).startsWith(closedWith.reason))
    assert.ok(Buffer.byteLength(closedWith.reason) > 119, 'cut at a character, not before')
    assert.ok((await withTimeout(answer, 5000, 'the client request')) instanceof Error)
    await withTimeout(warned, 5000, 'the warning')
    // a local destroy with such a message, astral characters this time
    const client2 = await startClient(server.url, { afterOpen: true })
    const conn2 = await server.next()
    const err = new Error('💥'.repeat(40))
    client2.ps.destroy(err)
    const { code, reason } = await withTimeout(conn2.wsClosed, 5000, 'the server socket hearing the close')
    assert.equal(code, 4000)
    assert.equal(reason, '💥'.repeat(30)) // 120 bytes
    assert.equal(await withTimeout(client2.closed, 5000, 'the client session'), err)
    await withTimeout(client2.wsClosed, 5000, 'the client socket closing')
  } finally {
    await server.close()
  }
})

test('a client whose server never answers the upgrade: the session fails, requests rejected', T, async () => {
  // a plain TCP server that accepts and closes: the handshake fails
  const net = require('node:net')
  const srv = net.createServer((s) => s.destroy())
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.address().port}`)
    ws.on('error', () => {})
    const closed = deferred()
    let closes = 0
    const ps = connectWebSocket(ws, { close (err) { closes++; closed.resolve(err) } })
    const answer = ps.request('anyone?').then(() => 'resolved', (err) => err)
    const err = await withTimeout(closed.promise, 5000, 'the session failing')
    assert.ok(err instanceof Error)
    assert.equal(await answer, err)
    await sleep(50)
    assert.equal(closes, 1)
  } finally {
    await new Promise((resolve) => srv.close(resolve))
  }
})

test('back pressure: 64 MiB to a server that reads slowly, bounded by highWaterMark', T, async () => {
  const TOTAL = 64 << 20
  const CHUNK = 64 << 10
  let received = 0
  const done = deferred()
  const server = await startServer((conn) => ({
    stream (sub) {
      let n = 0
      sub.read = (data, end) => {
        if (end) {
          sub.write(received)
          sub.end()
          return done.resolve()
        }
        received += data.length
        // now and then the server stops reading for a while
        if (++n % 128 === 0) {
          conn.ws.pause()
          setTimeout(() => conn.ws.resume(), 30)
        }
      }
    }
  }))
  try {
    const client = await startClient(server.url, { afterOpen: true, opts: { highWaterMark: 1 << 20 } })
    await server.next()
    const sub = client.ps.stream()
    const replies = sub[Symbol.asyncIterator]()
    const chunk = Buffer.alloc(CHUNK, 0xab)
    let waits = 0
    let maxBuffered = 0
    let maxPending = 0
    for (let sent = 0; sent < TOTAL; sent += CHUNK) {
      sub.write(chunk)
      maxPending = Math.max(maxPending, client.ps.pendingBytes)
      maxBuffered = Math.max(maxBuffered, client.ws.bufferedAmount)
      if (!client.ps.writable) {
        waits++
        await withTimeout(client.ps.drained(), 10000, 'drained')
      }
    }
    sub.end()
    const reply = await withTimeout(replies.next(), 10000, 'the byte count')
    await withTimeout(done.promise, 1000, 'the end')
    assert.equal(reply.value, TOTAL)
    assert.equal(received, TOTAL)
    assert.ok(waits > 0, 'the producer had to wait')
    // what waits in the framer and the socket stays near the high-water mark
    assert.ok(maxPending <= 4 << 20, `pendingBytes ${maxPending}`)
    assert.ok(maxBuffered <= 8 << 20, `bufferedAmount ${maxBuffered}`)
    await gracefulCloseQuiet(client)
  } finally {
    await server.close()
  }
})

async function gracefulCloseQuiet (client) {
  const err = await withTimeout(new Promise((resolve) => client.ps.close(resolve)), 5000, 'close')
  assert.ok(!err)
}

test('a refused connection: the session fails with the reason in its message (ECONNREFUSED), each pending request once', T, async () => {
  // a port nothing listens on: one that was just given back
  const net = require('node:net')
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = probe.address().port
  await new Promise((resolve) => probe.close(resolve))
  const closes = []
  const ps = connectWebSocket(new WebSocket(`ws://127.0.0.1:${port}`), { close: (err) => closes.push(err) })
  const err = await withTimeout(ps.request('x').then(() => null, (e) => e), 5000, 'the request to fail')
  assert.match(err.message, /^transport failed: websocket error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
  assert.equal(err.cause.code, 'ECONNREFUSED')
  await sleep(20)
  assert.equal(closes.length, 1)
})

// Ends as the socket reports them: a peer's close() without a status code
// (1005) is a normal end, as 1000 is; a message over ws's maxPayload ends
// the session with ws's error as its cause, not with a close code that
// never arrived; a destroy with a reason that is not an Error sends it as
// the close reason; a close code the socket refuses throws and leaves the
// socket and the session as they were.
test('ends as reported: 1005 is a normal end, maxPayload gives its cause, a non-Error reason is sent, a refused close code changes nothing', T, async () => {
  const server = await startServer()
  try {
    // the server closes without a status code
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    const held = client.ps.request('hold').then(() => 'answered', (err) => err)
    await withTimeout(client.ps.request('ping'), 5000, 'the server has the request')
    conn.ws.close()
    const err = await withTimeout(held, 5000, 'the pending request')
    assert.equal(err.message, 'unexpected end of parent stream')
    assert.equal((await client.wsClosed).code, 1005)

    // a destroy whose reason is a string, then one with a number
    for (const reason of ['a plain string', 42]) {
      const c = await startClient(server.url, { afterOpen: true })
      const s = await server.next()
      c.ps.destroy(reason)
      assert.deepEqual(await withTimeout(s.wsClosed, 5000, 'the server socket closing'), { code: 4000, reason: String(reason) })
    }

    // a code the socket refuses
    const c3 = await startClient(server.url, { afterOpen: true })
    const s3 = await server.next()
    assert.throws(() => c3.ws.close(1006), /valid error code/)
    assert.throws(() => c3.ws.close(1005), /valid error code/) // reported, never sent
    await sleep(20)
    assert.equal(c3.ps.ended, false)
    assert.equal(c3.ws.readyState, WebSocket.OPEN)
    assert.deepEqual(await withTimeout(c3.ps.request('still here'), 5000, 'a request after it'), { echo: 'still here', from: 'server' })
    c3.ws.close(1000)
    await withTimeout(s3.closed, 5000, 'the server session ending')
  } finally {
    await server.close()
  }

  // a message over the server's maxPayload
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 })
  await once(wss, 'listening')
  try {
    const serverEnd = deferred()
    wss.on('connection', (ws) => connectWebSocket(ws, { ...service('server'), close: serverEnd.resolve }))
    const client = await startClient(`ws://127.0.0.1:${wss.address().port}`, { afterOpen: true })
    const answer = client.ps.request(Buffer.alloc(4096)).then(() => 'answered', (err) => err)
    const err = await withTimeout(serverEnd.promise, 5000, 'the server session ending')
    assert.match(err.message, /websocket error: Max payload size exceeded/)
    assert.match(err.cause.message, /Max payload size exceeded/)
    assert.ok((await withTimeout(answer, 5000, 'the client request')) instanceof Error)
  } finally {
    for (const ws of wss.clients) ws.terminate()
    await new Promise((resolve) => wss.close(resolve))
  }
})

// The loop the README gives a producer: write while ps.writable, else await
// ps.drained(). When the peer goes away, drained() throws the end, and the
// loop stops; it used to resolve at once, for ever, while the writes went
// nowhere, and the loop spun on microtasks so that no timer ran again.
// With a highWaterMark of 16 KiB, what the socket buffers and what waits
// framed stay near it: a turn's frames leave in pieces of that size.
test('a producer honouring back pressure: the highWaterMark bounds the buffering; when the peer goes, drained() throws and the loop stops', T, async () => {
  const server = await startServer()
  try {
    const HIGH = 16 << 10
    const client = await startClient(server.url, { afterOpen: true, opts: { highWaterMark: HIGH } })
    const conn = await server.next()
    conn.ws.pause() // the server stops reading
    const sub = client.ps.stream()
    sub.read = () => {}
    const chunk = Buffer.alloc(1024, 7)
    let most = 0
    let writes = 0
    let timerRan = false
    setTimeout(() => { timerRan = true }, 300)
    const loop = (async () => {
      for (;;) {
        if (!client.ps.writable) await client.ps.drained()
        sub.write(chunk)
        writes++
        most = Math.max(most, client.ws.bufferedAmount + client.ps.pendingBytes)
      }
    })()
    const outcome = loop.then(() => 'returned', (err) => err)
    await until(() => !client.ps.writable, 5000, 'the socket to back up')
    assert.ok(most <= HIGH + 2 * (chunk.length + 9), `buffered and waiting at most ${most} bytes with a high-water mark of ${HIGH}`)
    conn.ws.terminate()
    const err = await withTimeout(outcome, 5000, 'the producer loop to stop')
    assert.ok(err instanceof Error, String(err))
    assert.equal(err, await client.closed, 'it throws the session\'s end')
    const wrote = writes
    await sleep(350)
    assert.ok(timerRan, 'timers ran meanwhile')
    assert.equal(writes, wrote)
  } finally {
    await server.close()
  }
})

// The caller's own close() with code 1000 sends the goodbye first even when
// something is open (what is open here ends with "unexpected end of parent
// stream"), so that the server's session ends too, also when the close()
// itself then throws (a reason over 123 bytes) and the socket stays open.
test('the caller\'s close(1000) with a request pending sends the goodbye, also when close() throws', T, async () => {
  const server = await startServer()
  try {
    const client = await startClient(server.url, { afterOpen: true })
    const conn = await server.next()
    const held = client.ps.request('hold').then(() => 'answered', (err) => err)
    const serverHeld = conn.ps.request('hold').then(() => 'answered', (err) => err)
    await withTimeout(client.ps.request('ping'), 5000, 'the server has the request')
    assert.throws(() => client.ws.close(1000, 'x'.repeat(200)))
    assert.equal((await held).message, 'unexpected end of parent stream')
    // the server heard the goodbye: its session ends, its pending request
    // hears it, and it closes the socket
    assert.equal((await withTimeout(serverHeld, 5000, 'the server request')).message, 'unexpected end of parent stream')
    await withTimeout(conn.closed, 5000, 'the server session')
    assert.ok(conn.received.at(-1).equals(Buffer.alloc(9)), 'the last message was the goodbye')
    assert.equal((await withTimeout(client.wsClosed, 5000, 'the socket closing')).code, 1000)
  } finally {
    await server.close()
  }
})
