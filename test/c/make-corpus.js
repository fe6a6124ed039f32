'use strict'
// Writes the fuzzer's seed corpus (test/c/fuzz_corpus/): programs for
// fuzz_session.c that drive valid exchanges, some with wire bytes framed by
// packet-stream-codec itself. Run: node test/c/make-corpus.js
const fs = require('node:fs')
const path = require('node:path')
const psc = require('packet-stream-codec')

const dir = path.join(__dirname, 'fuzz_corpus')
fs.mkdirSync(dir, { recursive: true })

// Operations of fuzz_session.c (op byte, then the body type byte).
const OP = { RECV: 0, MESSAGE: 1, REQUEST: 2, RESPOND: 3, NO_HANDLER: 4, OPEN: 5, WRITE: 6, END: 7, RELEASE: 8, CLOSE: 9, DESTROY: 10, RECV_END: 11, IN_PLACE: 12, EXCHANGE: 13 }
const WIRE = 0; const PACKET = 1; const COMPAT = 2; const TIGHT = 4

const body = (s) => { const b = Buffer.from(s); return [b.length, ...b] }
const frames = (packets) => Buffer.concat(packets.flatMap((p) => psc.encodePair(p).filter(Boolean)))

// wire bytes as RECV operations of at most 1020 bytes, |chunk| at a time
function recv (bytes, chunk) {
  const out = []
  for (let i = 0; i < bytes.length; i += 1020) {
    const part = bytes.subarray(i, i + 1020)
    out.push(OP.RECV, 0, chunk, Math.ceil(part.length / 4), ...part)
    // a part not a multiple of 4 bytes long may only come last
    if (part.length % 4) break
  }
  return out
}

// one frame by hand: |first| is the whole first header byte
function frame (first, req, bytes) {
  const head = Buffer.alloc(9)
  head[0] = first
  head.writeUInt32BE(bytes.length, 1)
  head.writeInt32BE(req, 5)
  return [...head, ...bytes]
}

const seeds = {
  // for the framer, which reads the input as frames, its first byte also
  // picking chunks of 448 bytes (so these lie whole in one) and its second
  // batches of one: frames up to the limit of 256, then one over it
  'whole-frames': [...frame(0x86, 1, Buffer.from('hello')), ...frame(0x02, 3, Buffer.from('0123456789abcdef')),
    ...frame(0x0e, 5, Buffer.from('{"x":[1,2]}')), ...frame(0x02, 7, Buffer.alloc(300, 'x'))],
  // JSON bodies of every kind the core's tape describes, and some it leaves
  'json-bodies': [...frame(0x86, 1, Buffer.from('hello')),
    ...['{"x":1,"y":"abc","z":[true,false,null,-5,1.5e3,-0,1234567890]}', ' [ "a\\nb" , "\u00e9\ud83d\ude00", "é", {} , [] ] ',
      '{"__proto__":{"a":1},"k":{"k":{"k":[[[]]]}}}', '{"x":1,"y":"abc","z":[]}', '"a string of more than twenty-four bytes"',
      '[1,]', '{"a":1 "b":2}', '01', '"\\x"'].flatMap((t, i) => frame(0x02, 9 + 2 * i, Buffer.from(t)))],
  'messages-requests': [WIRE, OP.MESSAGE, 1, ...body('hello'), OP.REQUEST, 2, ...body('{"a":1}'),
    OP.REQUEST, 2, ...body('"fail"'), OP.EXCHANGE, 0, 0, OP.CLOSE, 0, OP.EXCHANGE, 0, 3],
  'substreams': [WIRE, OP.OPEN, 0, OP.OPEN, 0, OP.WRITE, 1, 0, ...body('abc'), OP.WRITE, 0, 1, ...body('x'),
    OP.EXCHANGE, 0, 1, OP.END, 2, 0, ...body('true'), OP.END, 2, 1, ...body('true'), OP.EXCHANGE, 0, 5,
    OP.RELEASE, 0, 0, OP.CLOSE, 0],
  'serve-peer': [WIRE | COMPAT, ...recv(frames([
    { req: 0, stream: false, end: false, value: 'hi' },
    { req: 1, stream: false, end: false, value: { name: 'x', args: [] } },
    { req: 2, stream: true, end: false, value: { name: 's', type: 'source', args: [] } },
    { req: 2, stream: true, end: false, value: Buffer.from([1, 2, 3]) },
    { req: 2, stream: true, end: true, value: true },
    { req: -9, stream: false, end: false, value: 1 }
  ]), 3), OP.RESPOND, 2, 0, ...body('{"ok":true}'), 0],
  'peer-goodbye': [WIRE, OP.REQUEST, 2, ...body('1'), ...recv(Buffer.concat([frames([
    { req: -1, stream: false, end: true, value: { message: 'no', name: 'Error' } }]), Buffer.alloc(9)]), 1)],
  'tight-limits': [WIRE | TIGHT, OP.REQUEST, 2, ...body('1'), OP.REQUEST, 2, ...body('2'), OP.REQUEST, 2, ...body('3'),
    OP.REQUEST, 2, ...body('4'), OP.REQUEST, 2, ...body('5'), OP.OPEN, 0, OP.WRITE, 0, 0, ...body('x'.repeat(70))],
  'packet-mode': [PACKET, OP.RECV, 0, 0, 0, 0, 1, 0, OP.RECV, 0, 0, 0, 0, 2, 8, OP.RESPOND, 2, 0, ...body('1'), 0,
    OP.OPEN, 0, OP.CLOSE, 0, OP.RECV, 0, 0xff, 0xff, 0xff, 0xfd, 12, OP.DESTROY, 0, 1]
}

for (const [name, bytes] of Object.entries(seeds)) {
  fs.writeFileSync(path.join(dir, name), Buffer.from(bytes))
}
console.log(`wrote ${Object.keys(seeds).length} seeds to ${dir}`)
