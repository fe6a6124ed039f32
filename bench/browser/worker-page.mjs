// The page of bench/browser-worker.js: one module worker per contestant,
// then echo(x) calls at 64 and 1 in flight (the case of bench/rpc.js, whose
// text the harness hands over as benchCase(), compiled afresh for each
// contestant), the contestants interleaved round after round (the order
// alternating) as bench/lib.js does in Node.
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

// calls/s of |body| (bench/rpc.js's case: n calls, inFlight in flight)
async function rate (body, call, inFlight, n) {
  const t = performance.now()
  const done = await body({ call, inFlight }, n)
  return done / ((performance.now() - t) / 1000)
}

run(async () => {
  const source = await window.benchCase()
  const clients = []
  for (const peer of peers) clients.push(await start(peer))
  // each contestant its own copy of the case, so that no call site in it is
  // shared (and made polymorphic) by the others
  const bodies = clients.map(() => new Function(`return (${source})`)()) // eslint-disable-line no-new-func
  for (const [i, call] of clients.entries()) for (let j = 0; j < 100; j++) await bodies[i]({ call, inFlight: 1 }, 1)
  const cases = []
  for (const [inFlight, n] of quick ? [[64, 20000], [1, 1500]] : [[64, 60000], [1, 5000]]) {
    const rates = Object.fromEntries(peers.map((p) => [p.name, []]))
    const rounds = quick ? 3 : 7
    for (let round = -1; round < rounds; round++) { // round -1 warms up
      const order = peers.map((_, i) => i)
      if (round % 2) order.reverse()
      for (const i of order) {
        const r = await rate(bodies[i], clients[i], inFlight, n)
        if (round >= 0) rates[peers[i].name].push(r)
      }
    }
    cases.push({ inFlight, rates })
  }
  return { cases, cpus: navigator.hardwareConcurrency, userAgent: navigator.userAgent }
})
