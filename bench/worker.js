'use strict'
// Worker RPC over node:worker_threads: one worker per contestant, echo(x)
// calls at 1 and 64 in flight. The contestants are in ./worker-peers.js
// (add one there); ./worker-peer.js is the worker's script.
const path = require('node:path')
const { once } = require('node:events')
const { Worker } = require('node:worker_threads')
const peers = require('./worker-peers')
const { run } = require('./rpc')

async function main ({ quick = false } = {}) {
  const connections = []
  const workers = []
  try {
    for (const peer of peers) {
      const worker = new Worker(path.join(__dirname, 'worker-peer.js'), { workerData: { name: peer.name } })
      workers.push(worker)
      const [msg] = await once(worker, 'message') // the worker has set up its side
      if (msg !== 'ready') throw new Error(`${peer.name}: the worker said ${msg}`)
      const client = await peer.client(worker)
      connections.push({ name: peer.name, call: client.call, close: client.close })
    }
    await run({
      title: 'worker_threads RPC: echo calls',
      connections,
      cases: quick ? [[1, 1500], [64, 20000]] : [[1, 5000], [64, 60000]],
      rounds: quick ? 3 : 7
    })
  } finally {
    for (const c of connections) c.close()
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

module.exports = main
if (require.main === module) main({ quick: process.argv.includes('--quick') }).catch((err) => { console.error(err); process.exit(1) })
