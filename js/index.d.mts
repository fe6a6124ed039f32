// Types for the ES module entries (js/index.mjs, js/browser.mjs): the API of
// the main entry as an ES module, its default export and the named ones.
import packets from './index.js'

export default packets
export declare const ready: typeof packets.ready
export declare const PacketStream: typeof packets.PacketStream
export declare const codec: typeof packets.codec
export declare const connectStream: typeof packets.connectStream
export declare const connectWebSocket: typeof packets.connectWebSocket
export declare const connectPort: typeof packets.connectPort
export declare const errors: typeof packets.errors
/** reads packets.debug (set the switch there) */
export declare const debug: boolean
