// Types for packet-stream-wasm/codec: the codec of the main entry.
import packets = require('./index')

declare const codec: typeof packets.codec
export = codec
