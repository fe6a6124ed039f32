'use strict'
// Back pressure end to end: a producer process (test/fixtures/bp-producer.js)
// streams 1 GiB in 64 KiB Buffers over one substream of connectStream on a
// TCP socket on 127.0.0.1 to this process, which reads intermittently
// slowly (its socket paused now and then). The producer writes whenever
// ps.writable and otherwise awaits ps.drained(). Its memory (rss,
// arrayBuffers, and what the framer and the socket hold) stays within 64
// MiB of where it started, and every byte arrives, in order.
const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { fork } = require('node:child_process')
const { connectStream } = require('..')

const TOTAL = 1 << 30
const CHUNK = 64 << 10
const BOUND = 64 << 20
const PAUSE_EVERY = 256 // chunks (16 MiB)
const PAUSE_MS = 25
const MiB = (n) => (n / (1 << 20)).toFixed(1) + ' MiB'

test('1 GiB through a slow consumer: the producer stays within 64 MiB, every byte arrives', { timeout: 90000 }, async (t) => {
  const consumer = { bytes: 0, chunks: 0, wrong: 0, pauses: 0, header: null, ended: null, closed: null }
  let serverPs = null
  const server = net.createServer((socket) => {
    serverPs = connectStream(socket, {
      close (err) { consumer.closed = err || null },
      stream (sub) {
        sub.read = (data, end) => {
          if (end) {
            consumer.ended = end
            if (end === true) {
              sub.write(consumer.bytes)
              sub.end()
            }
            return
          }
          if (consumer.header === null) {
            consumer.header = data
            return
          }
          const i = consumer.chunks++
          if (data.length !== CHUNK || data[0] !== (i & 255) || data[CHUNK - 1] !== (i & 255)) consumer.wrong++
          consumer.bytes += data.length
          // intermittently slow: the socket is not read for a while
          if (consumer.chunks % PAUSE_EVERY === 0) {
            consumer.pauses++
            socket.pause()
            setTimeout(() => socket.resume(), PAUSE_MS)
          }
        }
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const child = fork(path.join(__dirname, 'fixtures', 'bp-producer.js'),
    [String(server.address().port), String(TOTAL), String(CHUNK)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] })
  let timer
  try {
    const result = await Promise.race([
      new Promise((resolve, reject) => {
        child.once('message', resolve)
        child.once('exit', (code) => reject(new Error(`the producer exited (${code}) without a report`)))
      }),
      new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error('timed out: the producer did not finish in 80 s')), 80000) })
    ])
    assert.equal(result.error, undefined, result.error)
    const { base, max } = result
    const grew = { rss: max.rss - base.rss, arrayBuffers: max.arrayBuffers - base.arrayBuffers }
    t.diagnostic(`1 GiB in ${result.seconds.toFixed(2)} s (${(1024 / result.seconds).toFixed(0)} MiB/s), ` +
      `${result.waits} waits for drain, ${consumer.pauses} consumer pauses`)
    t.diagnostic(`producer rss ${MiB(base.rss)} -> max ${MiB(max.rss)} (+${MiB(grew.rss)}); ` +
      `arrayBuffers ${MiB(base.arrayBuffers)} -> max ${MiB(max.arrayBuffers)} (+${MiB(grew.arrayBuffers)}); ` +
      `pendingBytes max ${MiB(max.pendingBytes)}; socket buffer max ${MiB(max.socketBuffer)}`)
    const { retained } = result
    t.diagnostic(`after a GC (${retained.samples} samples): rss max +${MiB(retained.rss - base.rss)}, ` +
      `arrayBuffers max +${MiB(retained.arrayBuffers - base.arrayBuffers)}`)
    // everything arrived, in order, and the producer heard so
    assert.deepEqual(consumer.header, { total: TOTAL, chunkSize: CHUNK })
    assert.equal(consumer.bytes, TOTAL)
    assert.equal(consumer.chunks, TOTAL / CHUNK)
    assert.equal(consumer.wrong, 0)
    assert.equal(consumer.ended, true)
    assert.equal(result.reply, TOTAL)
    assert.equal(result.closeError, null)
    // the producer was held back, and its memory stayed bounded
    assert.ok(result.waits > 0, 'the producer waited for drain')
    assert.ok(consumer.pauses > 0)
    assert.ok(grew.rss < BOUND, `rss grew by ${MiB(grew.rss)}`)
    assert.ok(grew.arrayBuffers < BOUND, `arrayBuffers grew by ${MiB(grew.arrayBuffers)}`)
    assert.ok(max.pendingBytes + max.socketBuffer < BOUND, `framed and buffered: ${MiB(max.pendingBytes + max.socketBuffer)}`)
    assert.equal(await new Promise((resolve) => child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)), 0)
    // the goodbye closed our side too
    assert.equal(consumer.closed, null)
  } finally {
    clearTimeout(timer)
    child.kill()
    if (serverPs && !serverPs.ended) serverPs.destroy(new Error('test over'))
    await new Promise((resolve) => server.close(resolve))
  }
})

// The other side of the bound: a writer that ignores ps.writable toward a
// transport that takes nothing. The session ends with ERR_OUTBUF_LIMIT once
// limits.maxOutbuf is framed, and the core's memory (in a process of its
// own) grows by at most twice the limit: its output buffer doubles up to
// the limit and is refused before it would grow past it. It grew by almost
// four times the limit when a refused frame's room was reserved first.
test('a writer that ignores back pressure: the core grows by at most twice limits.maxOutbuf, then ERR_OUTBUF_LIMIT', { timeout: 30000 }, async () => {
  const { execFileSync } = require('node:child_process')
  const fixture = path.join(__dirname, 'fixtures', 'outbuf-memory.js')
  const limit = 8 << 20
  for (const args of [[String(limit), String(CHUNK)], [String(limit), '1000', 'string']]) {
    const got = JSON.parse(execFileSync(process.execPath, [fixture, ...args], { encoding: 'utf8' }))
    assert.equal(got.code, -907, `ERR_OUTBUF_LIMIT (${args.join(' ')})`)
    assert.ok(got.growth <= 2 * limit + (1 << 20), `the core grew by ${MiB(got.growth)} for a limit of ${MiB(limit)} (${args.join(' ')})`)
  }
})
