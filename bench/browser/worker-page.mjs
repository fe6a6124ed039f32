// The page of bench/browser-worker.js: one module worker per contestant,
// then echo(x) calls at 64 and 1 in flight, the contestants interleaved
// round after round (the order alternating) as bench/lib.js does in Node.
// Reports { cases: [{ inFlight, rates: { name: [calls/s, ...] } }] }.
import peers from './peers.mjs'
import { run } from '/test/browser/pages/report.mjs'

const quick = new URL(location.href).searchParams.has('quick')

async function start (peer) {
  const worker = new Worker(`./worker-peer.mjs?peer=${encodeURIComponent(peer.name)}`, { type: 'module' })
  await new Promise((resolve, reject) => {
    worker.addEventListener('error', () => reject(new Error(`${peer.name}: the worker failed to start`)))
    worker.addEventListener('message', function ready (ev) {
      if (ev.data !== 'ready') return
      worker.removeEventListener('message', ready)
      resolve()
    })
  })
  return peer.client(worker)
}

// n calls, inFlight of them in flight (each lane calls again when its last
// call is answered), as bench/rpc.js
async function calls (call, inFlight, n) {
  let issued = 0
  async function lane () {
    while (issued < n) {
      const x = issued++
      const y = await call(x)
      if (y !== x) throw new Error(`wrong answer: ${y} for ${x}`)
    }
  }
  const t = performance.now()
  await Promise.all(Array.from({ length: inFlight }, lane))
  return n / ((performance.now() - t) / 1000)
}

run(async () => {
  const clients = []
  for (const peer of peers) clients.push(await start(peer))
  for (const call of clients) for (let i = 0; i < 100; i++) await calls(call, 1, 1)
  const cases = []
  for (const [inFlight, n] of quick ? [[64, 20000], [1, 1500]] : [[64, 60000], [1, 5000]]) {
    const rates = Object.fromEntries(peers.map((p) => [p.name, []]))
    const rounds = quick ? 3 : 7
    for (let round = -1; round < rounds; round++) { // round -1 warms up
      const order = peers.map((_, i) => i)
      if (round % 2) order.reverse()
      for (const i of order) {
        const rate = await calls(clients[i], inFlight, n)
        if (round >= 0) rates[peers[i].name].push(rate)
      }
    }
    cases.push({ inFlight, rates })
  }
  return { cases, cpus: navigator.hardwareConcurrency, userAgent: navigator.userAgent }
})
