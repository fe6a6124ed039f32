// The CommonJS view of the types: the README's examples, typed.
import packets = require('packet-stream-wasm')
import codec = require('packet-stream-wasm/codec')

const A = packets({
  message (msg) { console.log('message', msg) },
  request (value, cb) { cb(null, { okay: true }) },
  stream (stream) { stream.read = stream.write },
  close (err) { console.log('closed', err) }
})
const B = packets({ limits: { maxFrame: 1 << 20, maxRequests: 10, maxStreams: 10, maxOutbuf: 1 << 22 } })
A.read = B.write
B.read = A.write
B.message('HELLO THERE')
B.request({ foo: 'bar' }, (err, value) => console.log('response', err, value))
const s = B.stream()
s.read = (data, end) => console.log(end ? 'ended' : data)
s.write('open - write to stream')
s.end()
packets.debug = true
const memory: number = A.coreMemory
const code: number = packets.errors.ERR_FRAME_TOO_LARGE
async function promises () {
  for await (const x of s) console.log(x)
  return B.request(1)
}
packets.ready.then((p) => p({}))
// async handlers
packets({
  async request (value, cb) { cb(null, await Promise.resolve(value)) },
  async stream (sub) { for await (const x of sub) sub.write(x) },
  async message () {}
})
const [head, body] = codec.encodePair({ req: 1, value: 1 })
const h = codec.decodeHead(head)
const length: number = h.length
if (body) codec.decodeBody(body, h)
const framer = new codec.Framer({ maxFrame: 16 }, { passBodies: true })
framer.encode({ req: 1, value: 'x' })
const bytes: Uint8Array | null = framer.take()
const room: number = framer.maxOutbuf - framer.pending + framer.maxFrame
void memory; void code; void promises; void length; void bytes; void room

// the types say no where the API says no
// @ts-expect-error a session needs its handlers object
packets()
// @ts-expect-error error codes are numbers
const notAString: string = packets.errors.ERR_CLOSED
// @ts-expect-error encodePair takes a packet
codec.encodePair(5)
// @ts-expect-error decodeHead gives a length that is a number
const notLength: string = codec.decodeHead(head).length
void notAString; void notLength
