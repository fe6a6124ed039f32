// The ES module entry for Node: the CommonJS build, so that `import` and
// `require` in one process share one instance of the core.
import packets from './index.js'

export default packets
export const ready = packets.ready
export const PacketStream = packets.PacketStream
export const codec = packets.codec
export const connectStream = packets.connectStream
export const connectWebSocket = packets.connectWebSocket
export const connectPort = packets.connectPort
export const errors = packets.errors
