'use strict'
// WebSocket RPC over `ws` on 127.0.0.1: echo(x) calls at 1 and 64 in
// flight, one connection per contestant. The contestants are in
// ./ws-peers.js (add one there); ./ws-server.js is the server.
//
// The server runs in a child process (WS_SERVER=inprocess puts it in
// this one). On this 2-core machine the child process gave the steadier
// figures: client and server each get a core and run in parallel, as a
// real server would, and at 64 in flight raw ws rounds ranged 46-53k and
// 40-57k calls/s over two runs, against 31-43k and 31-48k with both ends
// on one event loop, where each side's batch of work holds up the other's
// and GC pauses stop both. At 1 in flight a call across processes costs
// about 200 us of wake-ups (~5k calls/s for any stack), which compresses
// the ratios there; in-process that case shows CPU cost instead
// (14-20k calls/s raw), but swings more from round to round.
const path = require('node:path')
const { fork } = require('node:child_process')
const { once } = require('node:events')
const WebSocket = require('ws')
const peers = require('./ws-peers')
const { run } = require('./rpc')

async function startServer (inProcess) {
  if (inProcess) return require('./ws-server')()
  const child = fork(path.join(__dirname, 'ws-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [msg] = await once(child, 'message')
  return {
    port: msg.port,
    close: async () => { const exited = once(child, 'exit'); child.disconnect(); await exited }
  }
}

async function connect (port, peer) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/?peer=${encodeURIComponent(peer.name)}`)
  const [data] = await once(socket, 'message') // the server has set up its side
  if (String(data) !== 'ready') throw new Error(`${peer.name}: the server said ${data}`)
  return socket
}

async function main ({ quick = false, inProcess = process.env.WS_SERVER === 'inprocess' } = {}) {
  const server = await startServer(inProcess)
  const connections = []
  try {
    for (const peer of peers) {
      const socket = await connect(server.port, peer)
      const client = await peer.client(socket)
      connections.push({ name: peer.name, call: client.call, close: client.close })
    }
    await run({
      title: `WebSocket RPC (ws, 127.0.0.1, server in ${inProcess ? 'this process' : 'a child process'}): echo calls`,
      connections,
      cases: quick ? [[1, 1000], [64, 8000]] : [[1, 3000], [64, 25000]],
      rounds: quick ? 3 : 7
    })
  } finally {
    for (const c of connections) c.close()
    await server.close()
  }
}

module.exports = main
if (require.main === module) main({ quick: process.argv.includes('--quick') }).catch((err) => { console.error(err); process.exit(1) })
