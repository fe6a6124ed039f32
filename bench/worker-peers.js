'use strict'
// The contestants of bench/worker.js, each both sides of one RPC stack
// over a node:worker_threads port (the Worker on the main thread,
// parentPort in the worker; both are EventEmitters with postMessage):
//   { name,
//     serve (port)  -> (may be async) answers echo(x) with x, in the worker
//     client (port) -> (may be async) { call (x) -> Promise<x>, close () } }
// To add one, add an entry here; bench/worker-peer.js runs the worker side
// by name.
const birpc = () => import('birpc') // birpc 4 is ES modules only

module.exports = [
  {
    // the floor: one postMessage per call, the worker answers each with one
    name: 'postMessage, one per call',
    serve (port) {
      port.on('message', (msg) => port.postMessage(msg))
    },
    client (port) {
      const pending = new Map()
      let next = 0
      const onMessage = (msg) => {
        const resolve = pending.get(msg[0])
        pending.delete(msg[0])
        resolve(msg[1])
      }
      port.on('message', onMessage)
      return {
        call: (x) => new Promise((resolve) => {
          const id = next++
          pending.set(id, resolve)
          port.postMessage([id, x])
        }),
        close () { port.off('message', onMessage) }
      }
    }
  },
  {
    // ours: connectPort on both sides, ps.request(x) -> a promise
    name: 'packet-stream-wasm',
    serve (port) {
      require('..').connectPort(port, { request (value, cb) { cb(null, value) } })
    },
    client (port) {
      const ps = require('..').connectPort(port)
      return { call: (x) => ps.request(x), close () { ps.close(() => {}) } }
    }
  },
  {
    name: 'birpc@4',
    async serve (port) {
      const { createBirpc } = await birpc()
      createBirpc({ echo: (x) => x }, { post: (data) => port.postMessage(data), on: (fn) => port.on('message', fn) })
    },
    async client (port) {
      const { createBirpc } = await birpc()
      let handler
      const rpc = createBirpc({}, {
        post: (data) => port.postMessage(data),
        on: (fn) => { handler = fn; port.on('message', fn) },
        off: (fn) => port.off('message', fn)
      })
      return { call: (x) => rpc.echo(x), close () { rpc.$close(); if (handler) port.off('message', handler) } }
    }
  },
  {
    name: 'comlink@4',
    serve (port) {
      const Comlink = require('comlink')
      const nodeEndpoint = require('comlink/dist/umd/node-adapter')
      Comlink.expose({ echo: (x) => x }, nodeEndpoint(port))
    },
    client (port) {
      const Comlink = require('comlink')
      const nodeEndpoint = require('comlink/dist/umd/node-adapter')
      const api = Comlink.wrap(nodeEndpoint(port))
      return { call: (x) => api.echo(x), close () { api[Comlink.releaseProxy]() } }
    }
  }
]
