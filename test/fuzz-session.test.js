'use strict'
// Seeded fuzzing of the JS API over connectStream. Two sessions, A and B,
// talk over an in-memory byte pipe (Duplex ends, or { readable, writable }
// pairs) that splits, delays and reorders delivery, and on some seeds
// mutates what A sends: bits flipped, bytes dropped, duplicated or added,
// chunks swapped, frames inserted, the pipe cut mid-frame or destroyed.
// Each side acts as an honest user at random (messages, requests by
// callback and promise, substreams read by callback or iterator, a
// producer honouring back pressure, handlers that throw, close, destroy),
// then the sessions end one of several ways.
//
// For every seed: no uncaught exception or unhandled rejection; every
// request callback and promise, substream reader, iterator, close callback
// and ps.drained() settles exactly once, within HANG_MS of the pipe ending;
// both transports close; both cores are freed; errors the library makes
// have a clear message (never "true"); on a clean pipe echoes come back
// intact; a single known-bad frame ends B with its own error code; the only
// process warnings are the throws of our handlers. Over the whole run the
// JS heap and the wasm heap in use stay flat.
//
// FUZZ_JS_SECONDS bounds the run (default 15); FUZZ_JS_SEED=n runs seed n
// alone.
const test = require('node:test')
const assert = require('node:assert/strict')
const v8 = require('node:v8')
const vm = require('node:vm')
const { Duplex, Readable, Writable } = require('node:stream')
const packets = require('..')
const { core } = require('../js/wasm')
const { mulberry32 } = require('./helpers/rng')
const { sleep, tick } = require('./helpers/wait')

const FIRST_SEED = 1
const SEED_COUNT = 20000
const BUDGET_MS = 1000 * Number(process.env.FUZZ_JS_SECONDS || 15)
const ONE_SEED = process.env.FUZZ_JS_SEED ? Number(process.env.FUZZ_JS_SEED) : null
const HANG_MS = 5000
// Memory is compared between the end and a point past the start-up, when
// caches are full and the core's memory has grown to its working size.
const MEMORY_BASELINE_AFTER = 100
const MEMORY_MIN_SEEDS = 300
const MB = 1024 * 1024
const E = packets.errors

// One random stream per seed and role, so that one role's choices do not
// shift another's.
function randomness (seed, role) {
  const next = mulberry32(Math.imul(seed, 2654435761) ^ Math.imul(role, 40503))
  const r = () => next()
  r.int = (n) => Math.floor(next() * n)
  r.pick = (items) => items[r.int(items.length)]
  r.chance = (p) => next() < p
  return r
}

// fn(), or onError of what it threw
function attempt (fn, onError) {
  try {
    return fn()
  } catch (err) {
    return onError(err)
  }
}

// ---- values and frames ------------------------------------------------------

const STRINGS = [() => '', (r) => 'x'.repeat(r.int(40)), (r) => 'héllo ✓ 𝄞 ' + r.int(1000), (r) => 'k' + r.int(100),
  (r) => String.fromCharCode(...Array.from({ length: r.int(20) }, () => 32 + r.int(90))), (r) => '"\\\n\t\u0000\u001f' + r.int(10)]
const KEYS = ['a', 'b', 'foo', 'x1', 'x2', '__proto__', '1', 'ü', 'toString']
function randomValue (rng, depth = 0) {
  switch (rng.int(depth > 2 ? 7 : 10)) {
    case 0: return null
    case 1: return rng.chance(0.5)
    case 2: return rng.int(1 << 20) - (1 << 19)
    case 3: return rng.pick([1.5, -0.25, 1e300, 2 ** 40, -(2 ** 33), 0, -0, 123456789012])
    case 4: case 5: return rng.pick(STRINGS)(rng)
    case 6: return Buffer.from(Array.from({ length: rng.pick([1, 3, 16, 100]) }, () => rng.int(256)))
    case 7: return Array.from({ length: rng.int(5) }, () => randomValue(rng, depth + 1))
    default: { // defined: '__proto__' is an own key, as JSON.parse makes it
      const o = {}
      for (let n = rng.int(5); n > 0; n--) {
        Object.defineProperty(o, rng.pick(KEYS), { value: randomValue(rng, depth + 1), enumerable: true, writable: true, configurable: true })
      }
      return o
    }
  }
}

// A value as it comes out of the other end: bytes, a string, or JSON.
function wireForm (v) {
  if (v instanceof Uint8Array) return 'B:' + Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')
  if (typeof v === 'string') return 'S:' + Buffer.from(v).toString()
  const json = attempt(() => JSON.stringify(v), (err) => 'X:' + err.message)
  return 'J:' + (json === undefined ? 'null' : JSON.stringify(JSON.parse(json)))
}

function describe (v) {
  if (v instanceof Error) return `Error(${v.message}${v.code ? ' code ' + v.code : ''})`
  if (v && typeof v.message === 'string') return `{${v.name}: ${v.message}}` // flattened, its stack left out
  return attempt(() => String(JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? String(x) : x))).slice(0, 200), () => String(v))
}

function frame (flags, type, req, body, claimedLength = body.length) {
  const head = Buffer.alloc(9)
  head[0] = flags | type
  head.writeUInt32BE(claimedLength >>> 0, 1)
  head.writeInt32BE(req | 0, 5)
  return Buffer.concat([head, body])
}

// Where frames start in |buf|, which starts with one (as every chunk that a
// framer writes does).
function frameStarts (buf) {
  const out = [0]
  for (let at = 0; at + 9 <= buf.length;) out.push(at += 9 + buf.readUInt32BE(at + 1))
  return out
}
const isGoodbyeAt = (buf, at) => at + 9 <= buf.length && buf.subarray(at, at + 9).every((c) => c === 0)

const BAD_JSON = ['{"a":', 'undefined', 'NaN', "{'a':1}", '[1,]', '01', '1.', '.5', '-', '"abc', '\u0000', '{"a" 1}', 'tru', 'nul', '1 2', '', ' ', '\ufeff1', '"\u0001"', '[', ']', '}{', '1e', '+1', '0x10', '--1', '"\\x"', '"\\u12"', '{"a":1,}', '[1 2]']
const GOOD_JSON = ['1', '"s"', '{"a":1}', '[1,2,{"b":[]}]', 'null', 'true', ' 1 ', '-0', '1e5', '"\\u00e9"', '{"__proto__":1}', '123456789012345678901234567890', '"\ud83d"']

// A frame A never sent, and the error B must end with when it arrives on a
// frame boundary of an otherwise clean pipe (null: B may go on).
function strayFrame (run, rng) {
  const { A, B } = run.sides
  const maxFrame = run.cfg.limitsB ? run.cfg.limitsB.maxFrame : 16777216
  let type = rng.pick([0, 1, 2, 2, 3])
  const flags = rng.pick([0, 4, 8, 12])
  const req = rng.pick([0, 1, 2, 3, -1, -2, 0x7fffffff, -0x80000000, rng.int(2 ** 31), -rng.int(2 ** 31),
    1 + rng.int(Math.max(1, A.requests)), -1 - rng.int(Math.max(1, B.requests)), // A's requests, answers to B
    A.subIds.length ? rng.pick(A.subIds) : 1, B.subIds.length ? -rng.pick(B.subIds) : -1])
  let body = Buffer.from(Array.from({ length: rng.int(12) }, () => rng.int(256)))
  let expect = null
  if (type === 2) {
    const kind = rng.int(4)
    if (kind === 0) body = Buffer.from(rng.pick(BAD_JSON))
    else if (kind > 1) body = Buffer.from(rng.pick(GOOD_JSON))
    attempt(() => JSON.parse(body.toString()), () => { expect = { code: E.ERR_BAD_BODY, why: `non-JSON body ${JSON.stringify(body.toString('latin1'))}` } })
  }
  if (type === 3) expect = { code: E.ERR_BAD_TYPE, why: 'type 3' }
  let claimed
  if (rng.chance(0.15)) {
    claimed = rng.pick([maxFrame + 1, 0xffffffff, 0x7fffffff, maxFrame + 1000])
    if (type !== 3) expect = { code: E.ERR_PEER_FRAME_TOO_LARGE, why: `claimed length ${claimed}` }
    body = Buffer.alloc(0)
  }
  if (flags === 0 && type === 0 && req === 0 && body.length === 0 && !claimed) {
    type = 1 // the goodbye's header: an empty string message instead
    expect = null
  }
  return { bytes: frame(flags, type, req, body, claimed), expect }
}

// ---- the pipe ---------------------------------------------------------------

const MUTATIONS = ['flip', 'flip', 'drop', 'dup', 'dupchunk', 'reorder', 'garbage', 'insert', 'insert', 'insert', 'endmid', 'destroy']
const SINGLE_MUTATIONS = ['insert', 'insert', 'insert', 'insert', 'endmid', 'destroy', 'flip', 'drop', 'dup', 'dupchunk', 'reorder', 'garbage']

// One direction of the pipe: what send() gets reaches dst in pieces over
// later turns, the writer's callback coming before or after.
class Link {
  constructor (run, mutating, role) {
    Object.assign(this, { run, mutating, rng: randomness(run.seed, role), dst: null, pumping: false, chunks: 0, delivered: 0, sawGoodbye: false })
    this.queue = [] // Buffers, { end }, { destroy }, { cb }, in order
    this.ended = false // nothing more reaches dst
    this.held = null // a chunk that goes after the next one
    this.enqueued = 0 // bytes, mutations included
  }

  send (chunk, cb) {
    if ((this.ended || this.dst.destroyed) && this.rng.chance(0.5)) return setImmediate(() => cb(new Error('fuzz: EPIPE')))
    chunk = Buffer.from(chunk) // the writer may reuse its buffer
    if (this.mutating) chunk = this.mutate(chunk, this.chunks)
    this.chunks++
    if (chunk === null) return this.callback(cb) // the mutation ended the pipe
    if (frameStarts(chunk).some((at) => isGoodbyeAt(chunk, at))) this.sawGoodbye = true
    this.enqueue(chunk)
    if (this.rng.chance(0.7)) this.callback(cb)
    else this.queue.push({ cb })
    this.pump()
  }

  callback (cb) {
    if (this.rng.chance(0.5)) cb()
    else setImmediate(cb)
  }

  enqueue (chunk) {
    this.enqueued += chunk.length
    for (let at = 0, n; at < chunk.length; at += n) {
      n = this.rng.chance(0.3) ? 1 + this.rng.int(chunk.length - at) : chunk.length - at
      this.queue.push(chunk.subarray(at, at + n))
    }
  }

  // Ends this direction, with what is queued delivered first or dropped
  // (the writer's callbacks are called still), by an end or with |error|.
  finish ({ drop = false, error = null, cb = null } = {}) {
    if (this.held && !drop) this.queue.push(this.held)
    this.held = null
    if (drop) this.queue = this.queue.filter((p) => p.cb)
    this.queue.push(error ? { destroy: error } : { end: true })
    if (cb) this.queue.push({ cb })
    this.pump()
  }

  // the writer was destroyed: the reader sees an end, or a reset
  writerGone () {
    const r = this.rng()
    this.finish(r < 0.3 ? {} : { drop: r < 0.6, error: new Error('fuzz: ECONNRESET (peer destroyed its end)') })
  }

  pump () {
    if (this.pumping) return
    this.pumping = true
    if (this.run.cfg.syncDelivery) this.deliver()
    else setImmediate(() => this.deliver())
  }

  deliver () {
    while (this.queue.length) {
      const p = this.queue.shift()
      if (p.cb) p.cb()
      else if (this.ended || this.dst.destroyed) continue
      else if (p.end || p.destroy) {
        if (p.armsExpectation) this.run.arm()
        this.ended = true
        if (p.end) this.dst.push(null)
        else this.dst.destroy(p.destroy)
      } else {
        const at = this.run.expect && this.run.expect.offset
        if (this.mutating && at >= this.delivered && at < this.delivered + p.length) this.run.arm()
        this.delivered += p.length
        this.dst.push(p)
      }
      if (this.rng.chance(0.5)) break // the rest in a later turn
    }
    this.pumping = false
    if (this.queue.length) this.pump()
  }

  // A's output changed: at random on a noisy pipe, once on a single one.
  mutate (chunk, n) {
    const { run, rng } = this
    const single = run.cfg.mutate === 'single'
    const op = single ? (n === run.cfg.mutateAt ? run.cfg.mutation : null) : rng.chance(run.cfg.pMutation) ? rng.pick(MUTATIONS) : null
    if (this.held) { // the held chunk goes after this one
      this.enqueue(chunk)
      chunk = this.held
      this.held = null
    }
    if (!op) return chunk
    run.mutated++
    const b = Buffer.from(chunk)
    const at = rng.int(b.length)
    if (op === 'flip') {
      for (let k = 1 + rng.int(3); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8)
      return b
    }
    if (op === 'drop') return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(16))])
    if (op === 'dup') return Buffer.concat([b.subarray(0, at + 1 + rng.int(32)), b.subarray(at)])
    if (op === 'dupchunk') return Buffer.concat([b, b])
    if (op === 'reorder') {
      this.held = b
      return Buffer.alloc(0)
    }
    if (op === 'garbage') {
      const where = rng.chance(0.5) ? 0 : rng.int(b.length + 1)
      return Buffer.concat([b.subarray(0, where), Buffer.from(Array.from({ length: 1 + rng.int(30) }, () => rng.int(256))), b.subarray(where)])
    }
    if (op === 'insert') {
      const { bytes, expect } = strayFrame(run, rng)
      const starts = frameStarts(b).filter((x) => x <= b.length)
      const onStart = rng.chance(0.8)
      const where = onStart ? rng.pick(starts) : rng.int(b.length + 1)
      const afterGoodbye = this.sawGoodbye || starts.some((x) => x < where && isGoodbyeAt(b, x))
      if (single && onStart && expect && !afterGoodbye) run.expect = { ...expect, offset: this.enqueued + where }
      return Buffer.concat([b.subarray(0, where), bytes, b.subarray(where)])
    }
    // 'endmid' or 'destroy': the pipe ends after the first |at| bytes
    if (single && op === 'destroy') run.expect = { message: 'fuzz: pipe destroyed', why: 'pipe destroyed' }
    if (single && op === 'endmid' && !frameStarts(b).includes(at)) run.expect = { code: E.ERR_TRUNCATED, why: `pipe ended at byte ${at} of a ${b.length}-byte chunk` }
    if (at > 0) this.enqueue(b.subarray(0, at))
    this.queue.push({ armsExpectation: true, ...(op === 'destroy' ? { destroy: new Error('fuzz: pipe destroyed') } : { end: true }) })
    this.pump()
    return null
  }
}

// One end of the pipe, as connectStream takes it.
function pipeEnd (asPair, highWaterMark, out) {
  const writing = {
    highWaterMark,
    write: (chunk, enc, cb) => out.send(chunk, cb),
    final: (cb) => out.finish({ cb }),
    destroy: (err, cb) => { out.writerGone(); cb(err) }
  }
  if (!asPair) {
    const duplex = new Duplex({ ...writing, allowHalfOpen: true, read () {} })
    return { transport: duplex, input: duplex, streams: [duplex] }
  }
  const readable = new Readable({ highWaterMark, read () {} })
  const writable = new Writable(writing)
  return { transport: { readable, writable }, input: readable, streams: [readable, writable] }
}

// ---- what must happen -------------------------------------------------------

const violations = [] // { seed, text }, late ones of earlier seeds too
function violation (run, what, detail) {
  violations.push({ seed: run.seed, text: `${what}${run.finished ? ' (after the seed ended)' : ''}: ${detail}` })
}

// Something the library must settle once: a callback, a promise, an end.
class Once {
  constructor (run, side, what) {
    Object.assign(this, { run, side, what, hits: 0, args: [] })
    this.accepted = () => false // whether a second hit is no bug
    run.pending.push(this)
  }

  hit (arg) {
    if (++this.hits > 1 && !this.accepted()) {
      violation(this.run, `${this.side.name}: ${this.what} settled ${this.hits} times`, [...this.args, arg].map(describe).join(' | '))
    }
    if (this.args.length < 3) this.args.push(arg)
    checkError(this.run, `${this.side.name}: ${this.what}`, arg)
  }
}

// An error the library made must say what went wrong. One from the peer
// (fromPeer) says what the peer said, but never "true": that is an error
// end that lost its error.
function checkError (run, where, e) {
  if (!(e instanceof Error)) return
  if (e.message === 'true') violation(run, `${where}: an error with the message "true"`, describe(e))
  else if (!e.fromPeer && (e.message.length < 5 || /undefined|\[object|NaN/.test(e.message))) {
    violation(run, `${where}: an unclear error message`, describe(e))
  }
}

// ---- an honest user ---------------------------------------------------------

class Side {
  constructor (run, name) {
    Object.assign(this, { run, name, rng: randomness(run.seed, name === 'A' ? 3 : 5), ps: null, requests: 0 })
    this.subIds = [] // of the substreams we opened
    this.subs = [] // { sub, ended }: substreams we may still write to
    this.peerSubIds = new Set()
    Object.assign(this, { closedAtStep: undefined, closeErr: undefined, destroyedNoReason: false })
  }

  opts (limits) {
    this.sessionEnd = new Once(this.run, this, 'opts.close')
    return {
      limits,
      closeTimeout: this.rng.pick([20, 50, 100]),
      message: () => this.maybeThrow('message handler'),
      request: (value, cb) => { this.answer(value, cb); this.maybeThrow('request handler') },
      stream: (sub) => { this.onStream(sub); this.maybeThrow('stream handler') },
      // not always an Error: packet-stream 2.0.6 hands on the end value
      // that ended the session (an error response, a substream's end)
      close: (err) => {
        this.sessionEnd.hit(err)
        this.closedAtStep = this.run.step
        if (err) this.closeErr = err
      }
    }
  }

  maybeThrow (where) {
    if (this.run.cfg.throwy && this.rng.chance(0.1)) throw new Error(`fuzz: user ${where} threw`)
  }

  answer (value, cb) {
    const reply = (err, v) => attempt(() => cb(err, v), (e) => violation(this.run, `${this.name}: a request handler's cb threw`, e.stack))
    const k = this.rng.int(20)
    if (k < 8) reply(null, value)
    else if (k < 13) setImmediate(() => reply(null, value))
    else if (k < 15) reply(new Error('handler says no'))
    else if (k < 16) reply(null, 10n) // cannot be sent: an error response goes instead
    else if (k > 16) turns(1 + this.rng.int(4)).then(() => reply(null, value)) // 16: never answers
  }

  onStream (sub) {
    // As in packet-stream 2.0.6, what the opener writes after we ended our
    // side opens a new substream under the same number, whose answers (data
    // and a second end) reach the opener's substream after its reader
    // heard its end. Accepted for such substreams only.
    if (this.peerSubIds.has(sub.id)) this.run.reopened.add(`${this.name === 'A' ? 'B' : 'A'}:${-sub.id}`)
    this.peerSubIds.add(sub.id)
    const mode = this.rng.int(4) // echo, iterate and echo, end with an error, no reader at all
    if (mode === 3) return
    const entry = this.keep(sub)
    const echo = (x) => { if (mode !== 2 && !entry.ended && !sub.writeEnd) this.safeWrite(sub, x) }
    const endOurs = () => {
      entry.ended = true
      if (!sub.writeEnd) sub.end(mode === 2 ? new Error('no more') : undefined)
    }
    const end = new Once(this.run, this, `incoming substream ${sub.id} ${mode === 1 ? 'iterator' : 'reader'}`)
    if (mode === 1) this.iterate(entry, end, echo, this.rng.int(50)).then(endOurs)
    else this.listen(sub, end, echo, endOurs)
  }

  keep (sub) {
    const entry = { sub, ended: false }
    this.subs.push(entry)
    return entry
  }

  // sub.read: data to onData, the end (heard once) to onEnd
  listen (sub, end, onData, onEnd) {
    sub.read = (data, ended) => {
      if (end.hits && !end.accepted()) violation(this.run, `${this.name}: ${end.what} heard something after its end`, `data ${describe(data)}, end ${describe(ended)}`)
      if (ended || (data == null && sub.readEnd && !end.hits)) {
        end.hit(ended)
        onEnd(ended)
      } else onData(data)
    }
  }

  async iterate (entry, end, onValue, breakAfter) {
    let n = 0
    try {
      for await (const x of entry.sub) {
        onValue(x)
        if (++n > breakAfter) {
          entry.ended = true // leaving the loop ends our side
          break
        }
      }
    } catch (e) {
      if (!(e instanceof Error)) violation(this.run, `${this.name}: an iterator threw a non-Error`, describe(e))
      else e.fromPeer = true
      checkError(this.run, `${this.name}: ${end.what}`, e)
    }
    end.hit()
  }

  safeWrite (sub, data) {
    attempt(() => sub.write(data), (e) => this.expectRefusal(e, 'an echo write'))
  }

  big () {
    const limits = this.run.cfg['limits' + this.name]
    const n = limits ? limits.maxFrame + 1 : 1 << 16
    return this.rng.chance(0.5) ? Buffer.alloc(n, 1) : 'y'.repeat(n)
  }

  // what our own limits may throw at a value: a refusal, the session going on
  expectRefusal (e, what, codes = [E.ERR_INVALID_ARGUMENT, E.ERR_FRAME_TOO_LARGE]) {
    if (!e || !codes.includes(e.code)) violation(this.run, `${this.name}: ${what} threw something that is not a refusal`, e && e.stack)
    checkError(this.run, `${this.name}: ${what}`, e)
  }

  request (form) {
    const run = this.run
    const rng = this.rng
    const sent = rng.chance(0.04) ? { value: this.big(), refused: true } : rng.chance(0.03) ? { value: { n: 5n }, refused: true } : { value: randomValue(rng) }
    const answer = new Once(run, this, `request ${this.requests++} (${form})`)
    const settled = (err, value) => {
      answer.hit(err)
      if (err || sent.refused || run.cfg.mutate !== 'clean' || (value === undefined && this.destroyedNoReason)) return
      if (wireForm(sent.value) !== wireForm(value)) violation(run, `${this.name}: an echo differs on a clean pipe`, `sent ${wireForm(sent.value).slice(0, 200)}, got ${wireForm(value).slice(0, 200)}`)
    }
    const rejected = (err) => {
      if (!(err instanceof Error)) violation(run, `${this.name}: ${answer.what} rejected with a non-Error`, describe(err))
      else err.fromPeer = true
      settled(err)
    }
    if (form === 'promise') return this.ps.request(sent.value).then((v) => settled(null, v), rejected)
    const openBefore = this.closedAtStep === undefined
    this.ps.request(sent.value, (err, value) => {
      if (openBefore && this.closedAtStep !== undefined && !answer.hits) violation(run, `${this.name}: ${answer.what} answered after opts.close`, describe(err))
      // an honest peer's error responses are objects: `true` is the normal
      // end standing in for an error that was lost
      if (err === true && run.cfg.mutate === 'clean') violation(run, `${this.name}: ${answer.what} heard the error true`, 'on a clean pipe')
      settled(err, value)
    })
  }

  // The end of a substream we opened: a second one is accepted where the
  // peer reopened its number (see onStream), or a mutated pipe made it up.
  ownSubstream (what) {
    const sub = attempt(() => this.ps.stream(), (e) => {
      if (!/closing|too many open substreams/.test(e.message)) violation(this.run, `${this.name}: stream() threw unexpectedly`, e.stack)
    })
    if (!sub) return {}
    this.subIds.push(sub.id)
    const end = new Once(this.run, this, `own substream ${sub.id} ${what}`)
    end.accepted = () => this.run.cfg.mutate !== 'clean' || this.run.reopened.has(`${this.name}:${sub.id}`)
    return { entry: this.keep(sub), end }
  }

  openStream () {
    const reading = this.rng.chance(0.5) ? 'reader' : 'iterator'
    const { entry, end } = this.ownSubstream(reading)
    if (!entry) return
    if (reading === 'iterator') this.iterate(entry, end, () => {}, this.rng.chance(0.2) ? this.rng.int(5) : Infinity)
    else {
      this.listen(entry.sub, end, () => {}, (ended) => {
        if (this.closedAtStep !== undefined) violation(this.run, `${this.name}: ${end.what} ended after opts.close`, describe(ended))
      })
    }
    if (this.rng.chance(0.5)) this.writeTo(entry, this.rng.int(4))
  }

  writeTo (entry, n) {
    for (let i = 0; i < n && !entry.ended && !entry.sub.writeEnd; i++) {
      attempt(() => entry.sub.write(this.rng.chance(0.03) ? this.big() : randomValue(this.rng)), (e) => this.expectRefusal(e, 'sub.write'))
    }
  }

  endSome () {
    const live = this.subs.filter((e) => !e.ended && !e.sub.writeEnd)
    if (!live.length) return
    const entry = this.rng.pick(live)
    const sub = entry.sub
    entry.ended = true
    const how = this.rng.int(4)
    if (how === 0) sub.end()
    else if (how === 1) sub.end(new Error('user ended with an error'))
    else sub.destroy(how === 2 ? new Error('user destroyed the substream') : true)
  }

  // a producer honouring back pressure: writes while ps.writable, else
  // awaits ps.drained(), which must settle
  async produce () {
    const { entry, end } = this.ownSubstream('producer')
    if (!entry) return
    const { sub } = entry
    this.listen(sub, end, () => {}, () => {})
    const size = this.rng.pick([10, 1000, 9000, 70000])
    for (let i = this.rng.int(200); i > 0 && !entry.ended && !sub.writeEnd; i--) {
      if (!this.ps.writable) {
        const drained = new Once(this.run, this, `ps.drained() of substream ${sub.id}`)
        let over = null
        await this.ps.drained().catch((err) => { over = err })
        drained.hit(over)
        // it throws only once the session has ended (destroyed, or closed:
        // a close leaves ended false and opts null, as in 2.0.6)
        if (over && !this.ps.ended && this.ps.opts !== null) violation(this.run, `${this.name}: ps.drained() threw before the end`, describe(over))
        if (over || entry.ended || sub.writeEnd) break
      }
      let refused = false
      attempt(() => sub.write(Buffer.alloc(size, i & 255)), (e) => { refused = true; this.expectRefusal(e, 'a producer write') })
      if (refused) break
    }
    if (!entry.ended && !sub.writeEnd) sub.end()
    entry.ended = true
  }

  act () {
    const { rng, ps } = this
    const k = rng.int(100)
    try {
      if (k < 12) {
        const value = rng.chance(0.05) ? this.big() : rng.chance(0.02) ? Buffer.alloc(rng.pick([8192, 100000, 1 << 20]), 7) : randomValue(rng)
        attempt(() => ps.message(value), (e) => this.expectRefusal(e, 'message'))
      } else if (k < 30) this.request('callback')
      else if (k < 47) this.request('promise')
      else if (k < 60) this.openStream()
      else if (k < 80) {
        const live = this.subs.filter((e) => !e.ended && !e.sub.writeEnd)
        if (live.length) this.writeTo(rng.pick(live), 1 + rng.int(3))
        else this.openStream()
      } else if (k < 90) this.endSome()
      else if (k < 93) {
        const closed = new Once(this.run, this, 'close callback')
        ps.close((err) => closed.hit(err))
      } else if (k < 95) attempt(() => ps.message(10n), (e) => this.expectRefusal(e, 'a BigInt message', [E.ERR_INVALID_ARGUMENT]))
      else if (k < 96 && rng.chance(0.3)) this.destroy()
      else if (k < 98) this.produce()
      else this.request('callback')
    } catch (e) {
      violation(this.run, `${this.name}: an honest action threw`, e.stack)
    }
  }

  destroy () {
    const why = this.rng.chance(0.5) ? new Error('user destroyed the session') : undefined
    if (!why && !this.ps.ended) this.destroyedNoReason = true
    this.ps.destroy(why)
  }
}

// ---- one seed ---------------------------------------------------------------

const turns = async (n) => { while (n-- > 0) await tick() }

function smallLimits (rng) {
  return {
    maxFrame: rng.pick([16, 64, 200, 1024, 4096]),
    maxRequests: 1 + rng.int(8),
    maxStreams: 1 + rng.int(8),
    maxOutbuf: rng.pick([64, 512, 4096, 65536, 1 << 20])
  }
}

let current = null // the seed running, for the process-wide traps

async function runSeed (seed) {
  const rng = randomness(seed, 1)
  const cfg = {
    mutate: rng.pick(['clean', 'clean', 'noisy', 'noisy', 'single', 'single', 'single']),
    pMutation: rng.pick([0.02, 0.05, 0.15]),
    mutateAt: rng.int(12),
    mutation: rng.pick(SINGLE_MUTATIONS),
    ending: rng.pick(['graceful', 'graceful', 'gracefulA', 'endpipe', 'endpipe-drop', 'destroypipe', 'psdestroy']),
    steps: 5 + rng.int(56),
    highWaterMark: rng.pick([16, 256, 16384]),
    syncDelivery: rng.chance(0.2),
    throwy: rng.chance(0.1),
    asPair: rng.chance(0.3),
    limitsA: rng.chance(0.3) ? smallLimits(rng) : undefined,
    limitsB: rng.chance(0.3) ? smallLimits(rng) : undefined
  }
  const run = { seed, cfg, step: 0, pending: [], mutated: 0, expect: null, reopened: new Set(), finished: false }
  current = run
  const A = new Side(run, 'A')
  const B = new Side(run, 'B')
  run.sides = { A, B }
  const toB = new Link(run, cfg.mutate !== 'clean', 7)
  const toA = new Link(run, false, 11)
  const endA = pipeEnd(cfg.asPair, cfg.highWaterMark, toB)
  const endB = pipeEnd(cfg.asPair, cfg.highWaterMark, toA)
  toB.dst = endB.input
  toA.dst = endA.input
  // the expectation of a single bad frame holds if B was open when it came
  run.arm = () => {
    if (!run.expect || run.expect.armed) return
    run.expect.armed = true
    run.expect.bOpen = B.sessionEnd.hits === 0 && !B.ps._closing
  }
  A.ps = packets.connectStream(endA.transport, A.opts(cfg.limitsA))
  B.ps = packets.connectStream(endB.transport, B.opts(cfg.limitsB))

  for (run.step = 0; run.step < cfg.steps; run.step++) {
    (rng.chance(0.6) ? A : B).act()
    const k = rng.int(10)
    if (k < 4) await tick()
    else if (k < 5) await turns(rng.int(5))
    else if (k < 7) await Promise.resolve()
  }
  try {
    if (cfg.ending.startsWith('graceful')) {
      for (const side of cfg.ending === 'graceful' ? [A, B] : [A]) {
        const closed = new Once(run, side, 'the final close callback')
        side.ps.close((err) => closed.hit(err))
      }
      await turns(rng.pick([3, 20]))
    } else if (cfg.ending === 'psdestroy') rng.pick([A, B]).destroy()
    else {
      const error = cfg.ending === 'destroypipe' ? new Error('fuzz: transport failed') : null
      for (const link of [toB, toA]) link.finish({ drop: cfg.ending !== 'endpipe', error })
    }
  } catch (e) {
    violation(run, 'ending the sessions threw', e.stack)
  }
  await turns(5)
  toB.finish()
  toA.finish()
  const streams = [...endA.streams, ...endB.streams]
  const settled = () => run.pending.every((p) => p.hits > 0) && streams.every((s) => s.closed)
  for (const deadline = Date.now() + HANG_MS; !settled() && Date.now() < deadline;) await sleep(5)
  if (!settled()) {
    const open = run.pending.filter((p) => p.hits === 0).map((p) => `${p.side.name}: ${p.what}`)
    violation(run, `a hang: not settled ${HANG_MS} ms after the pipe ended`, `${open.slice(0, 8).join('; ')}${open.length > 8 ? ` and ${open.length - 8} more` : ''}; ${streams.filter((s) => !s.closed).length} transport streams open`)
  }
  await tick() // a late second settle shows up here
  await sleep(1)
  for (const side of [A, B]) {
    if (side.ps.coreMemory !== 0) violation(run, `${side.name}: the core session was not freed`, `coreMemory ${side.ps.coreMemory}`)
  }
  const expect = run.expect
  if (expect && expect.bOpen && run.mutated === 1 && !cfg.throwy) {
    const e = B.closeErr
    const met = e && (expect.code !== undefined ? e.code === expect.code : String(e.message).includes(expect.message))
    // B may have closed cleanly on A's goodbye in the same chunk, or met
    // its own limits on A's traffic first
    const byLimits = e && cfg.limitsB && [E.ERR_PEER_FRAME_TOO_LARGE, E.ERR_PEER_REQUEST_LIMIT, E.ERR_PEER_STREAM_LIMIT].includes(e.code)
    if (met) run.expectationMet = true
    else if (!(B.ps._closing && !e) && !byLimits) violation(run, 'B did not end with the expected error', `${expect.why}: expected ${expect.code || expect.message}, got ${describe(e)}`)
  }
  run.finished = true
  current = null
  return run
}

// ---- the run ----------------------------------------------------------------

// What the wasm heap has in use: all but the free 4 KiB blocks that can be
// handed out before the memory must grow.
function wasmHeapInUse () {
  const { psw_malloc: malloc, psw_free: free } = core.exports
  const size = core.memory.buffer.byteLength
  const blocks = []
  let p
  while ((p = malloc(4096)) && core.memory.buffer.byteLength === size) blocks.push(p)
  if (p) free(p)
  for (const b of blocks) free(b)
  return size - blocks.length * 4096
}

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')
async function memoryInUse () {
  await sleep(20) // the last seed's timers, then finalizers
  gc()
  await tick()
  gc()
  return { heap: process.memoryUsage().heapUsed, wasm: wasmHeapInUse() }
}

test('fuzzed sessions over a mutating pipe keep every invariant', async (t) => {
  if (ONE_SEED !== null) assert.ok(Number.isSafeInteger(ONE_SEED), `FUZZ_JS_SEED must be an integer, not ${process.env.FUZZ_JS_SEED}`)
  const [first, final] = ONE_SEED !== null ? [ONE_SEED, ONE_SEED] : [FIRST_SEED, FIRST_SEED + SEED_COUNT - 1]
  const started = Date.now()
  let last = first - 1
  let ran = 0
  let expectationsMet = 0
  let baseline = null
  // Failures are pinned on their seed here: the runner would fail the test
  // on an uncaught exception without saying which seed made it.
  const trap = (err) => violation(current || { seed: last }, 'an uncaught exception or unhandled rejection', err && err.stack ? err.stack : describe(err))
  const runnerTraps = {}
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    runnerTraps[event] = process.listeners(event)
    process.removeAllListeners(event)
    process.on(event, trap)
  }
  // The library logs stray packets (as packet-stream 2.0.6 does) and
  // reports a throwing handler as a process warning: only ours may throw.
  const { error: consoleError } = console
  const { emitWarning } = process
  console.error = () => {}
  process.emitWarning = (w) => {
    if (!(w instanceof Error && /^fuzz: user .* threw$/.test(w.message))) violation(current || { seed: last, finished: true }, 'a process warning', describe(w))
  }
  try {
    for (let seed = first; seed <= final && Date.now() - started < BUDGET_MS && !violations.length; seed++) {
      const run = await runSeed(seed).catch((e) => violation({ seed }, 'the seed threw', e.stack))
      if (run && run.expectationMet) expectationsMet++
      last = seed
      if (++ran === MEMORY_BASELINE_AFTER) baseline = await memoryInUse()
    }
    await sleep(20) // what the last seed does late is still its own
  } finally {
    console.error = consoleError
    process.emitWarning = emitWarning
    for (const event in runnerTraps) {
      process.off(event, trap)
      for (const listener of runnerTraps[event]) process.on(event, listener)
    }
  }
  t.diagnostic(`${ran} seeds (${first}..${last}) in ${((Date.now() - started) / 1000).toFixed(1)} s; a single bad frame ended B with its own error in ${expectationsMet}`)
  if (violations.length) {
    const seed = violations[0].seed
    const found = violations.filter((v) => v.seed === seed).slice(0, 5).map((v) => '  ' + v.text.slice(0, 1500))
    assert.fail(`seed ${seed} failed:\n${found.join('\n')}\nreplay: FUZZ_JS_SEED=${seed} node --test test/fuzz-session.test.js`)
  }
  if (!baseline || ran - MEMORY_BASELINE_AFTER < MEMORY_MIN_SEEDS) {
    t.diagnostic(`memory not compared: fewer than ${MEMORY_BASELINE_AFTER + MEMORY_MIN_SEEDS} seeds ran`)
    return
  }
  const now = await memoryInUse()
  const heap = now.heap - baseline.heap
  const wasm = now.wasm - baseline.wasm
  const over = `over seeds ${first + MEMORY_BASELINE_AFTER}..${last}`
  t.diagnostic(`${over}: the JS heap grew by ${(heap / MB).toFixed(2)} MB, the wasm heap in use by ${(wasm / MB).toFixed(2)} MB`)
  // Seeds leave different things in caches; a session leaked per seed (its
  // transports, buffers and core) would be far above these.
  assert.ok(heap < 8 * MB, `the JS heap grew by ${heap} bytes ${over}`)
  assert.ok(wasm < 4 * MB, `the wasm heap in use grew by ${wasm} bytes ${over}`)
})
