// The module Worker of transports-port.mjs: connectPort on its own global.
// Counts its posts (each should carry one transferred, then detached,
// ArrayBuffer); reports its session's end with a plain message, which
// connectPort on the page ignores.
import { connectPort } from '/js/browser.mjs'

const stats = { posts: 0, notTransferred: 0, notDetached: 0 }
const post = self.postMessage
self.postMessage = function (message, transfer) {
  if (!(message instanceof ArrayBuffer)) return post.call(this, message, transfer)
  stats.posts++
  if (!Array.isArray(transfer) || transfer.length !== 1 || transfer[0] !== message) stats.notTransferred++
  post.call(this, message, transfer)
  if (message.byteLength !== 0) stats.notDetached++
}

const ps = connectPort(self, {
  request (value, cb) {
    if (value instanceof Uint8Array) return cb(null, value.slice().reverse())
    if (value === 'fail') return cb(new RangeError('refused by the worker'))
    if (value === 'hold') return
    if (value === 'selfclose') return setTimeout(() => self.close(), 0) // the worker ends itself
    if (value === 'stats') return cb(null, { ...stats })
    if (value === 'where') return cb(null, { worker: typeof WorkerGlobalScope === 'function' && self instanceof WorkerGlobalScope })
    if (value && value.ask !== undefined) {
      // a request of the worker's own to the page
      return ps.request(value.ask).then((answer) => cb(null, answer), (err) => cb(null, { rejected: { name: err.name, message: err.message } }))
    }
    if (value && value.askBytes !== undefined) {
      return ps.request(new Uint8Array(value.askBytes)).then((answer) => cb(null, answer), cb)
    }
    if (value && value.stream !== undefined) {
      // a substream of the worker's own to the page, read with for await
      const sub = ps.stream()
      for (let i = 0; i < value.stream; i++) sub.write(i)
      sub.write(new Uint8Array([7, 8, 9]))
      sub.end()
      ;(async () => {
        const got = []
        for await (const x of sub) got.push(x instanceof Uint8Array ? { u8: Array.from(x) } : x)
        cb(null, got)
      })().catch((err) => cb(err))
      return
    }
    cb(null, { echo: value, from: 'worker' })
  },
  stream (sub) {
    (async () => {
      for await (const x of sub) sub.write(x instanceof Uint8Array ? x : { got: x })
      sub.end()
    })().catch((err) => sub.end(err))
  },
  close (err) {
    self.postMessage({ closed: err ? err.message : null })
  }
})
