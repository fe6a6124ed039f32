// The ES module entry for Node and for bundlers (browser condition): the
// CommonJS build, so that `import` and `require` in one process or bundle
// share one instance of the core. (Browsers without a bundler load the
// single-file js/browser.mjs.)
import packets from './index.js'

export default packets
export const ready = packets.ready
export const PacketStream = packets.PacketStream
export const codec = packets.codec
export const connectStream = packets.connectStream
export const connectWebSocket = packets.connectWebSocket
export const connectPort = packets.connectPort
export const errors = packets.errors
// packets.debug is the switch; the named `debug` follows it (an imported
// binding cannot be assigned: set packets.debug)
export let debug = packets.debug
const { get, set } = Object.getOwnPropertyDescriptor(packets, 'debug')
Object.defineProperty(packets, 'debug', { get, set (on) { set(on); debug = get() }, enumerable: true })
