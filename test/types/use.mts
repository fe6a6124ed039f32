// The ES module view: the default export, the named ones, the subpaths.
import packets, { connectWebSocket, connectPort, connectStream, codec, errors, ready, PacketStream, debug } from 'packet-stream-wasm'
import browser, * as bundle from 'packet-stream-wasm/browser'
import codecEntry, { encodePackets, decodePackets, Framer, GOODBYE } from 'packet-stream-wasm/codec'
import * as main from 'packet-stream-wasm'
import * as codecModule from 'packet-stream-wasm/codec'

declare const socket: { readyState: number, binaryType: string, send (data: Uint8Array): void, close (code?: number, reason?: string): void, addEventListener (type: string, fn: (ev: any) => void): void, removeEventListener (type: string, fn: (ev: any) => void): void, bufferedAmount: number }
declare const port: { postMessage (message: unknown, transfer?: unknown[]): void, addEventListener (type: string, fn: (ev: any) => void): void, removeEventListener (type: string, fn: (ev: any) => void): void }
declare const duplex: any

const ws = connectWebSocket(socket as any, { request (v, cb) { cb(null, v) }, highWaterMark: 1 << 20 })
const value: unknown = await ws.request({ hello: 'server' })
const worker = connectPort(port as any)
const stream = connectStream(duplex, { closeTimeout: Infinity })
stream.request('hi', (err, v) => console.log(err, v))
const writable: boolean = ws.writable
await ws.drained()
ws.ondrain = () => {}
const pending: number = ws.pendingBytes
const on: boolean = debug && bundle.debug
packets.debug = true
browser.debug = true
const again = await ready
again({})
new PacketStream({})
const sameCodec: typeof codec = codecEntry
bundle.codec.encodePair('GOODBYE')
void value; void worker; void writable; void pending; void on; void errors; void sameCodec
// namespace imports see the default export beside the named ones, as at run time
const viaNamespace: typeof packets = main.default
const bytes: Uint8Array = codecModule.default.encodePackets([{ req: 1, value: 'x' }])
const decoded = decodePackets(encodePackets([{ req: 1, value: 'x' }, GOODBYE]))
const framerLimit: number = new Framer().maxFrame
void viaNamespace; void bytes; void decoded; void framerLimit

// @ts-expect-error a named import is read-only: set packets.debug
debug = false
// @ts-expect-error connectPort needs a port
connectPort()
// @ts-expect-error the bundle's codec is typed too
bundle.codec.decodeHead('x')
// @ts-expect-error so are the codec's named exports
encodePackets(5)
