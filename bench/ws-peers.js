'use strict'
// The contestants of bench/ws.js, each both sides of one RPC stack over a
// `ws` WebSocket (ws@8 on both ends; the server's socket and the client's
// are both open when handed over):
//   { name,
//     serve (socket)  -> (may be async) answers echo(x) with x, on the server
//     client (socket) -> (may be async) { call (x) -> Promise<x>, close () } }
// To add one, add an entry here; bench/ws-server.js serves it by name.
const birpc = () => import('birpc') // birpc 4 is ES modules only

const muxrpcManifest = { echo: 'async' }

module.exports = [
  {
    // the floor: one ws message per call, its id and value in JSON; the
    // server sends each message back as it came
    name: 'ws, one message per call',
    serve (socket) {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
    },
    client (socket) {
      const pending = new Map()
      let next = 0
      socket.on('message', (data) => {
        const msg = JSON.parse(data)
        const resolve = pending.get(msg[0])
        pending.delete(msg[0])
        resolve(msg[1])
      })
      return {
        call: (x) => new Promise((resolve) => {
          const id = next++
          pending.set(id, resolve)
          socket.send(JSON.stringify([id, x]))
        }),
        close () { socket.close() }
      }
    }
  },
  {
    // ours: connectWebSocket on both sides, ps.request(x) -> a promise
    name: 'packet-stream-wasm',
    serve (socket) {
      require('..').connectWebSocket(socket, { request (value, cb) { cb(null, value) } })
    },
    client (socket) {
      const ps = require('..').connectWebSocket(socket)
      return { call: (x) => ps.request(x), close () { ps.close(() => {}) } }
    }
  },
  {
    name: 'birpc@4 over ws',
    async serve (socket) {
      const { createBirpc } = await birpc()
      createBirpc({ echo: (x) => x }, {
        post: (data) => socket.send(data),
        on: (fn) => socket.on('message', fn),
        serialize: JSON.stringify,
        deserialize: (data) => JSON.parse(data)
      })
    },
    async client (socket) {
      const { createBirpc } = await birpc()
      const rpc = createBirpc({}, {
        post: (data) => socket.send(data),
        on: (fn) => socket.on('message', fn),
        serialize: JSON.stringify,
        deserialize: (data) => JSON.parse(data)
      })
      return { call: (x) => rpc.echo(x), close () { rpc.$close(); socket.close() } }
    }
  },
  {
    // muxrpc@8.0.0 on packet-stream@2.0.6 and packet-stream-codec@1.2.0,
    // through pull-ws (its duplex over our ws@8 sockets: pull-ws's own
    // client would bring ws@1.1.5). The codec gives a Buffer for each
    // header and each body, and pull-ws sends each as one ws message and
    // waits a setImmediate before taking the next.
    name: 'muxrpc over pull-ws',
    serve (socket) {
      const pull = require('pull-stream')
      const muxrpc = require('muxrpc')
      const server = muxrpc(null, muxrpcManifest, { echo (x, cb) { cb(null, x) } }, null, require('packet-stream-codec'))
      const duplex = require('pull-ws')(socket)
      pull(server.stream, duplex, server.stream)
    },
    client (socket) {
      const pull = require('pull-stream')
      const muxrpc = require('muxrpc')
      const client = muxrpc(muxrpcManifest, null, null, null, require('packet-stream-codec'))
      const duplex = require('pull-ws')(socket)
      pull(client.stream, duplex, client.stream)
      return {
        call: (x) => new Promise((resolve, reject) => client.echo(x, (err, y) => (err ? reject(err) : resolve(y)))),
        close () { socket.close() }
      }
    }
  }
]
