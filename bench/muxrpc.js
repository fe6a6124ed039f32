'use strict'
// muxrpc@8.0.0 end to end: two muxrpc instances, each on a packet-stream
// and a codec, joined by an in-memory byte pipe that carries Buffers like
// a socket (./pipe.js: 64 KiB high-water mark, chunks of up to 64 KiB
// delivered asynchronously).
//
// A contestant is a stack { name, packetStream, codec }: packetStream is
// what muxrpc's own require('packet-stream') returns (a fresh copy of
// muxrpc is loaded for each stack, so that stacks share no module and no
// call site), codec is muxrpc's 5th argument (packet-stream-codec's
// default export: codec(duplex) -> duplex of Buffers). To add one, add an
// entry to |stacks| below, e.g.
//   { name: 'packet-stream-wasm', packetStream: require('..'), codec: require('..').codec }
//
// Why the reference slows down as the burst grows (about 77k items/s at
// 20k items in one source call, 23k at 100k, 9k at 300k measured when
// this was written; with the pipe here a full run gave 76k, 19k, 5.3k): `node --prof` at
// 300k puts ~85% of the ticks in memmove (shown as libc, or UNKNOWN),
// called from Array.prototype.shift in muxrpc's pull-weird.js
// (`buffer.shift()` in its source()). packet-stream has no backpressure:
// the server's source call drains its pull-stream source synchronously,
// every item goes through ps.read at once, and pull-weird, which adapts
// packet-stream's push streams to pull-streams, queues what its reader
// has not asked for in a plain array. Over the socket-like pipe the
// writer is held back at the high-water mark, so the whole burst
// (300k packets) waits in the array of the pullWeird(ps) that feeds the
// server's encoder (over a direct synchronous pipe it waits instead in
// the client's substream, which receives everything before its reader is
// attached; quadratic either way). The encoder then takes the packets one
// by one with shift(). V8 shifts in O(1) by moving the start of the
// backing store, but not when the store is in large-object space (over
// 128 KiB: about 16k elements of 8 bytes, Node's builds have no pointer
// compression), where each shift copies the whole rest of the array:
// measured alone, 66 ns a shift at 8k elements, 530 ns at 15k, 7.7 us at
// 100k, 24 us at 300k. Quadratic in the burst. With pull-weird's array
// replaced by an index-based queue (an experiment, not done here) the
// 300k burst runs at ~300k items/s. So it is muxrpc's adapter, not
// packet-stream or its codec: any packet-stream under muxrpc@8 meets it,
// unless packets are taken off as fast as they are made.
const path = require('node:path')
const Module = require('node:module')
const pull = require('pull-stream')
const { interleave, report } = require('./lib')
const pipe = require('./pipe')

const stacks = [
  { name: 'muxrpc+packet-stream@2.0.6', packetStream: require('packet-stream'), codec: require('packet-stream-codec') },
  { name: 'packet-stream-wasm', packetStream: require('..'), codec: require('..').codec }
]

// A fresh copy of muxrpc (all of its own files) whose require('packet-stream')
// returns |packetStream|.
function loadMuxrpc (packetStream) {
  const dir = path.dirname(require.resolve('muxrpc')) + path.sep
  const own = (file) => file.startsWith(dir) && !file.slice(dir.length).includes('node_modules')
  const forget = () => { for (const file of Object.keys(require.cache)) if (own(file)) delete require.cache[file] }
  const psPath = require.resolve('packet-stream', { paths: [dir] })
  const saved = require.cache[psPath]
  const shim = new Module(psPath)
  shim.filename = psPath
  shim.loaded = true
  shim.exports = packetStream
  forget()
  require.cache[psPath] = shim
  try {
    return require('muxrpc')
  } finally {
    forget()
    if (saved) require.cache[psPath] = saved
    else delete require.cache[psPath]
  }
}

const manifest = { echo: 'async', items: 'source' }
const serverApi = {
  echo (x, cb) { cb(null, x) },
  items (n) { return pull.count(n - 1) } // 0 .. n-1
}

// What each compiled body gets: connect() -> { client, close() -> Promise }.
function contestant (stack) {
  const muxrpc = loadMuxrpc(stack.packetStream)
  return {
    name: stack.name,
    impl: {
      pull,
      connect () {
        const server = muxrpc(null, manifest, serverApi, null, stack.codec)
        const client = muxrpc(manifest, null, null, null, stack.codec)
        const ab = pipe()
        const ba = pipe()
        pull(client.stream, ab, server.stream, ba, client.stream)
        return {
          client,
          close: () => new Promise((resolve, reject) => client.close((err) => (err ? reject(err) : resolve())))
        }
      }
    }
  }
}

// n async calls, 64 in flight
const calls = `async function (impl, n) {
  const { client, close } = impl.connect()
  let issued = 0
  let answered = 0
  await new Promise((resolve, reject) => {
    function call () {
      const x = issued++
      client.echo(x, function (err, y) {
        if (err || y !== x) return reject(err || new Error('wrong answer'))
        if (++answered === n) return resolve()
        if (issued < n) call()
      })
    }
    for (let i = 0; i < 64 && i < n; i++) call()
  })
  await close()
  return n
}`

// n items in source calls of |impl.burst| items each, one after the other
const items = `async function (impl, n) {
  const { client, close } = impl.connect()
  const pull = impl.pull
  const burst = impl.burst
  let total = 0
  for (let done = 0; done < n; done += burst) {
    await new Promise((resolve, reject) => {
      let expect = 0
      pull(client.items(burst), pull.drain(function (x) {
        if (x !== expect++) throw new Error('out of order')
      }, function (err) {
        if (err) return reject(err)
        if (expect !== burst) return reject(new Error('lost items'))
        total += burst
        resolve()
      }))
    })
  }
  await close()
  return total
}`

async function main ({ quick = false } = {}) {
  const contestants = stacks.map(contestant)
  const baseline = contestants[0].name
  const rounds = quick ? 3 : 7
  let result = await interleave({ contestants, body: calls, n: quick ? 20000 : 100000, rounds })
  report('muxrpc@8.0.0 over a socket-like pipe: async calls, 64 in flight', 'calls', result, baseline)
  // the reference takes ~0.3 s at 20k, ~5 s at 100k, ~60 s at 300k items
  const bursts = quick ? [[20000, 20000, 3], [100000, 100000, 1]] : [[20000, 100000, 5], [100000, 100000, 3], [300000, 300000, 1]]
  for (const [burst, n, r] of bursts) {
    const withBurst = contestants.map((c) => ({ name: c.name, impl: { ...c.impl, burst } }))
    result = await interleave({ contestants: withBurst, body: items, n, rounds: r, warmup: burst > 20000 ? 0 : 1 })
    report(`muxrpc@8.0.0 over a socket-like pipe: source, ${burst.toLocaleString('en')} items in one call`, 'items', result, baseline)
  }
  // Is our rate flat in the burst? The runs above take one sample of the
  // large bursts (the reference needs a minute for one); ours alone here,
  // the bursts interleaved as contestants, 300,000 items each run.
  const ours = contestants[contestants.length - 1]
  const flatBursts = quick ? [20000, 300000] : [20000, 100000, 300000, 1000000]
  result = await interleave({
    contestants: flatBursts.map((burst) => ({ name: `${burst.toLocaleString('en')} a call`, impl: { ...ours.impl, burst } })),
    body: items,
    n: Math.max(...flatBursts),
    rounds: quick ? 3 : 7
  })
  report(`${ours.name} alone, source items, by items in one call (${Math.max(...flatBursts).toLocaleString('en')} items a run)`, 'items', result, `${flatBursts[0].toLocaleString('en')} a call`)
}

module.exports = main
main.loadMuxrpc = loadMuxrpc
if (require.main === module) main({ quick: process.argv.includes('--quick') }).catch((err) => { console.error(err); process.exit(1) })
