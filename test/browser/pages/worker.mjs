// A dedicated module worker loading the ES module bundle: a request round
// trip (JSON and binary), then the whole scenario. Replies once per message.
import packets from '/js/browser.mjs'
import { scenario } from './scenario.mjs'

function roundTrip (value) {
  const A = packets({
    request (v, cb) { cb(null, v instanceof Uint8Array ? v : { got: v, in: 'worker' }) }
  })
  const B = packets({})
  A.read = B.write; B.read = A.write
  return new Promise((resolve) => {
    B.request(value, (err, res) => {
      B.close(() => resolve({ err, res }))
    })
  })
}

self.onmessage = async (e) => {
  try {
    const ready = (await packets.ready) === packets
    const json = await roundTrip(e.data.request)
    const bytes = new Uint8Array(e.data.bytes)
    const bin = await roundTrip(bytes)
    self.postMessage({
      inWorker: typeof WorkerGlobalScope === 'function' && self instanceof WorkerGlobalScope,
      hasWindow: typeof window !== 'undefined',
      ready,
      json,
      bin: { err: bin.err, same: bin.res === bytes, bytes: Array.from(bin.res) },
      trace: await scenario(packets)
    })
  } catch (err) {
    self.postMessage({ error: { message: err.message, stack: err.stack } })
  }
}
