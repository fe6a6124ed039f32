// The worker side of bench/browser-worker.js: serves the contestant named
// in the URL (?peer=...), then says 'ready'.
import peers from './peers.mjs'

const name = new URL(self.location.href).searchParams.get('peer')
const peer = peers.find((p) => p.name === name)
await peer.serve(self)
self.postMessage('ready')
