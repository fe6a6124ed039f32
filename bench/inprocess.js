'use strict'
// In-process benchmarks against packet-stream@2.0.6: the original
// repository's benchmark (150,000 substreams of 200 items, echoed),
// requests and messages, and the heap held per open substream pair.
const { interleave, report, fmt } = require('./lib')
const reference = require('packet-stream')
const ours = require('..')

const contestants = [
  { name: 'packet-stream@2.0.6', impl: reference },
  { name: 'packet-stream-wasm', impl: ours }
]

// packet-stream's test/bench.js, as written there
const substreams = `function (ps, N) {
  const items = Array(200).fill(0).map((_, i) => i * 10)
  const a = ps({ stream (stream) { stream.read = stream.write.bind(stream) } })
  const b = ps({})
  a.read = b.write.bind(b); b.read = a.write.bind(a)
  for (let i = 0; i < N; i++) {
    const s = b.stream()
    s.read = function (data, end) {}
    items.forEach(function (data) { s.write(data) })
    s.end()
  }
  return N * 402 // packets: 200 items and an end, each way
}`

// the same traffic with 1,000 substreams open at once, interleaved
const interleaved = `function (ps, N) {
  const a = ps({ stream (stream) { stream.read = stream.write.bind(stream) } })
  const b = ps({})
  a.read = b.write.bind(b); b.read = a.write.bind(a)
  const open = []
  for (let i = 0; i < 1000; i++) { const s = b.stream(); s.read = function () {}; open.push(s) }
  for (let k = 0; k < N; k++) for (let i = 0; i < 1000; i++) open[i].write(k)
  for (const s of open) s.end()
  return N * 2000 + 2000
}`

const requests = `function (ps, N) {
  const a = ps({ request (value, cb) { cb(null, value) } })
  const b = ps({})
  a.read = b.write.bind(b); b.read = a.write.bind(a)
  let answered = 0
  for (let i = 0; i < N; i++) b.request(i, function (err, value) { answered++ })
  if (answered !== N) throw new Error('lost answers')
  return N
}`

const messages = `function (ps, N) {
  let got = 0
  const a = ps({ message (msg) { got++ } })
  const b = ps({})
  a.read = b.write.bind(b); b.read = a.write.bind(a)
  for (let i = 0; i < N; i++) b.message(i)
  if (got !== N) throw new Error('lost messages')
  return N
}`

// Heap per open substream pair: |n| substreams opened by B, each with its
// first packet delivered so that A holds its end too. For ours the bytes
// the core holds in wasm memory are added, and the growth of that memory
// (which keeps the high-water mark) is shown too.
function heapPerPair (packets, n) {
  const a = packets({ stream (s) { s.read = s.write.bind(s) }, limits: { maxStreams: n + 16 } })
  const b = packets({ limits: { maxStreams: n + 16 } })
  a.read = b.write.bind(b); b.read = a.write.bind(a)
  const read = function () {}
  const { core } = require('../js/wasm')
  global.gc(); global.gc()
  const before = process.memoryUsage().heapUsed
  const linearBefore = core.memory.buffer.byteLength
  const open = []
  for (let i = 0; i < n; i++) {
    const s = b.stream()
    s.read = read
    s.write(i)
    open.push(s)
  }
  global.gc(); global.gc()
  const heap = (process.memoryUsage().heapUsed - before) / n
  const coreBytes = ((a.coreMemory || 0) + (b.coreMemory || 0)) / n
  const linear = (core.memory.buffer.byteLength - linearBefore) / n
  return { heap, coreBytes, linear, keep: [a, b, open] }
}

async function main ({ quick = false } = {}) {
  const scale = quick ? 0.1 : 1
  const cases = [
    ['substreams: 150,000 x 200 items, echoed (packet-stream test/bench.js)', 'packets', substreams, 150000 * scale],
    ['substreams: 1,000 open, interleaved, echoed', 'packets', interleaved, 300 * scale],
    ['requests, answered at once', 'requests', requests, 1e6 * scale],
    ['messages', 'messages', messages, 3e6 * scale]
  ]
  const summary = {}
  for (const [title, unit, body, n] of cases) {
    const result = await interleave({ contestants, body, n: Math.round(n), rounds: quick ? 3 : 7 })
    report(title, unit, result, contestants[0].name)
    summary[title] = result[contestants[1].name].median / result[contestants[0].name].median
  }
  if (global.gc) {
    const n = quick ? 100000 : 1000000
    console.log(`\nheap per open substream pair, ${n.toLocaleString('en')} open`)
    const ref = heapPerPair(reference, n)
    console.log(`  ${contestants[0].name.padEnd(28)} ${ref.heap.toFixed(0).padStart(6)} bytes (JS heap)`)
    ref.keep = null
    const our = heapPerPair(ours, n)
    const total = our.heap + our.coreBytes
    console.log(`  ${contestants[1].name.padEnd(28)} ${total.toFixed(0).padStart(6)} bytes (${our.heap.toFixed(0)} JS heap + ` +
      `${our.coreBytes.toFixed(0)} held by the core in wasm memory; the memory grew ${our.linear.toFixed(0)})  ` +
      `${(total / ref.heap).toFixed(2)}x`)
    summary.heap = { reference: ref.heap, js: our.heap, core: our.coreBytes, linear: our.linear, ratio: total / ref.heap }
  } else {
    console.log('\n(run node with --expose-gc for the heap measurement)')
  }
  return summary
}

module.exports = main
if (require.main === module) main({ quick: process.argv.includes('--quick') }).catch((err) => { console.error(err); process.exit(1) })
