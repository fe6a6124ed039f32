// The contestants of bench/browser-worker.js, in a page and its dedicated
// module worker (the browser's twin of bench/worker-peers.js):
//   { name,
//     serve (self)  -> (may be async) answers echo(x) with x, in the worker
//     client (worker) -> (may be async) (x) -> Promise<x>, in the page }
const ours = () => import('/js/browser.mjs')
const birpc = () => import('/node_modules/birpc/dist/index.mjs')
const comlink = () => import('/node_modules/comlink/dist/esm/comlink.mjs')

export default [
  {
    // the floor: one postMessage per call, the worker answers each with one
    name: 'postMessage, one per call',
    serve (self) {
      self.addEventListener('message', (ev) => self.postMessage(ev.data))
    },
    client (worker) {
      const pending = new Map()
      let next = 0
      worker.addEventListener('message', (ev) => {
        const resolve = pending.get(ev.data[0])
        pending.delete(ev.data[0])
        resolve(ev.data[1])
      })
      return (x) => new Promise((resolve) => {
        const id = next++
        pending.set(id, resolve)
        worker.postMessage([id, x])
      })
    }
  },
  {
    name: 'packet-stream-wasm',
    async serve (self) {
      const { connectPort } = await ours()
      connectPort(self, { request (value, cb) { cb(null, value) } })
    },
    async client (worker) {
      const { connectPort } = await ours()
      const ps = connectPort(worker)
      return (x) => ps.request(x)
    }
  },
  {
    name: 'birpc@4',
    async serve (self) {
      const { createBirpc } = await birpc()
      createBirpc({ echo: (x) => x }, { post: (data) => self.postMessage(data), on: (fn) => self.addEventListener('message', (ev) => fn(ev.data)) })
    },
    async client (worker) {
      const { createBirpc } = await birpc()
      const rpc = createBirpc({}, { post: (data) => worker.postMessage(data), on: (fn) => worker.addEventListener('message', (ev) => fn(ev.data)) })
      return (x) => rpc.echo(x)
    }
  },
  {
    name: 'comlink@4',
    async serve (self) {
      const Comlink = await comlink()
      Comlink.expose({ echo: (x) => x }, self)
    },
    async client (worker) {
      const Comlink = await comlink()
      const api = Comlink.wrap(worker)
      return (x) => api.echo(x)
    }
  }
]
