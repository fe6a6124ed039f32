'use strict'
// muxrpc@8.0.0 running on packet-stream-wasm: muxrpc's own
// `require('packet-stream')` is answered with this package, and both ends
// speak over an in-memory pull-stream pair, once through muxrpc's normal
// codec (packet-stream-codec) and once through ours.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const Module = require('node:module')
const pull = require('pull-stream')
const ours = require('..')

// Make muxrpc's require('packet-stream') return ours, counting sessions.
let sessions = 0
const muxrpcDir = path.dirname(require.resolve('muxrpc'))
const psPath = require.resolve('packet-stream', { paths: [muxrpcDir] })
const shim = new Module(psPath)
shim.filename = psPath
shim.loaded = true
shim.exports = function packets (opts) {
  sessions++
  return ours(opts)
}
require.cache[psPath] = shim
const muxrpc = require('muxrpc')

const manifest = {
  hello: 'async',
  fail: 'async',
  count: 'source',
  forever: 'source',
  broken: 'source',
  collect: 'sink',
  echo: 'duplex'
}

function serverApi (seen) {
  return {
    hello (name, cb) { cb(null, `hello, ${name}!`) },
    fail (cb) { cb(new Error('it failed')) },
    count (n) { return pull.count(n - 1) },
    forever () {
      let i = 0
      return pull(
        (abort, cb) => {
          if (abort) { seen.aborted = abort; return cb(abort) }
          setImmediate(() => cb(null, i++))
        }
      )
    },
    broken () { return pull.error(new Error('source broke')) },
    collect (cb) {
      return pull.collect((err, items) => {
        seen.collected = items
        if (cb) cb(err, items)
      })
    },
    echo () {
      const queue = []
      let waiting = null
      let ended = null
      return {
        sink: (read) => {
          read(null, function next (end, data) {
            if (end) { ended = end; if (waiting) { const cb = waiting; waiting = null; cb(end) } return }
            if (waiting) { const cb = waiting; waiting = null; cb(null, data * 10) } else queue.push(data * 10)
            read(null, next)
          })
        },
        source: (abort, cb) => {
          if (abort) return cb(abort)
          if (queue.length) return cb(null, queue.shift())
          if (ended) return cb(ended)
          waiting = cb
        }
      }
    }
  }
}

const codecs = [['packet-stream-codec', undefined], ['packet-stream-wasm codec', ours.codec]]
for (const [codecName, codec] of codecs) {
  const connect = () => {
    const seen = {}
    const server = muxrpc(null, manifest, serverApi(seen), null, codec)
    const client = muxrpc(manifest, null, null, null, codec)
    pull(client.stream, server.stream, client.stream)
    return { client, server, seen }
  }

  test(`${codecName}: muxrpc loads its packet-stream from this package`, () => {
    const before = sessions
    connect()
    assert.equal(sessions - before, 2)
  })

  test(`${codecName}: async calls and errors`, async () => {
    const { client } = connect()
    assert.equal(await new Promise((resolve, reject) => client.hello('world', (err, v) => (err ? reject(err) : resolve(v)))), 'hello, world!')
    const err = await new Promise((resolve) => client.fail((e) => resolve(e)))
    assert.equal(err.message, 'it failed')
    // the promise form muxrpc offers
    assert.equal(await client.hello('promise'), 'hello, promise!')
  })

  test(`${codecName}: source streams, their errors and aborts`, async () => {
    const { client, seen } = connect()
    const items = await new Promise((resolve, reject) => pull(client.count(5), pull.collect((e, xs) => (e ? reject(e) : resolve(xs)))))
    assert.deepEqual(items, [0, 1, 2, 3, 4])
    const broke = await new Promise((resolve) => pull(client.broken(), pull.collect((e) => resolve(e))))
    assert.equal(broke.message, 'source broke')
    // take three of an endless source: the server's source hears the abort
    const three = await new Promise((resolve, reject) => pull(client.forever(), pull.take(3), pull.collect((e, xs) => (e ? reject(e) : resolve(xs)))))
    assert.deepEqual(three, [0, 1, 2])
    for (let i = 0; i < 50 && !seen.aborted; i++) await new Promise((resolve) => setImmediate(resolve))
    assert.ok(seen.aborted, 'the server saw the abort')
  })

  test(`${codecName}: sink streams`, async () => {
    const { client, seen } = connect()
    await new Promise((resolve, reject) => pull(pull.values(['a', 'b', 'c']), client.collect((err) => (err ? reject(err) : resolve()))))
    assert.deepEqual(seen.collected, ['a', 'b', 'c'])
  })

  test(`${codecName}: duplex streams`, async () => {
    const { client } = connect()
    const d = client.echo()
    const out = await new Promise((resolve, reject) => {
      pull(pull.values([1, 2, 3]), d.sink)
      pull(d.source, pull.collect((e, xs) => (e ? reject(e) : resolve(xs))))
    })
    assert.deepEqual(out, [10, 20, 30])
  })

  test(`${codecName}: close: both sides close, later calls are refused`, async () => {
    const { client, server } = connect()
    await new Promise((resolve, reject) => client.hello('x', (e) => (e ? reject(e) : resolve())))
    const serverClosed = new Promise((resolve) => server.once('closed', resolve))
    await new Promise((resolve, reject) => client.close((err) => (err ? reject(err) : resolve())))
    await serverClosed
    assert.equal(client.closed, true)
    const late = await new Promise((resolve) => client.hello('late', (e) => resolve(e)))
    assert.equal(late.message, 'stream is closed')
  })

  test(`${codecName}: closing with an error ends pending calls with it`, async () => {
    const { client } = connect()
    const pending = new Promise((resolve) => pull(client.forever(), pull.collect((e) => resolve(e))))
    await new Promise((resolve) => setImmediate(resolve))
    client.close(new Error('going away'))
    const err = await pending
    assert.equal(err.message, 'going away')
  })
}
