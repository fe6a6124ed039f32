'use strict'
// Shared by the RPC benchmarks over a transport (worker.js, ws.js): every
// contestant is set up once (a connection, a worker), then the cases run
// interleaved as in ./lib.js, then everything is closed.
const { interleave, report } = require('./lib')

// n calls of impl.call(x) -> Promise<x>, impl.inFlight of them in flight
// (each of inFlight lanes makes a call when its last one is answered)
const calls = `async function (impl, n) {
  const call = impl.call
  let issued = 0
  async function lane () {
    while (issued < n) {
      const x = issued++
      const y = await call(x)
      if (y !== x) throw new Error('wrong answer: ' + y + ' for ' + x)
    }
  }
  const lanes = []
  for (let i = 0; i < impl.inFlight; i++) lanes.push(lane())
  await Promise.all(lanes)
  return n
}`

// |connections|: [{ name, call, close }], set up; |cases|: [[inFlight, n]].
async function run ({ title, connections, cases, rounds }) {
  for (const c of connections) {
    for (let i = 0; i < 100; i++) if (await c.call(i) !== i) throw new Error(`${c.name}: wrong answer`)
  }
  for (const [inFlight, n] of cases) {
    const contestants = connections.map((c) => ({ name: c.name, impl: { call: c.call, inFlight } }))
    const result = await interleave({ contestants, body: calls, n, rounds })
    report(`${title}, ${inFlight} in flight`, 'calls', result, contestants[0].name)
  }
}

module.exports = { run, calls }
