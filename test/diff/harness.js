'use strict'
// Differential harness: the same scenario, driven by a seeded generator,
// runs against packet-stream@2.0.6 and against packet-stream-wasm, and
// everything observable is written to a trace: every `read` with its
// packet, every callback with its arguments (and how many), close
// callbacks, handlers, thrown errors, console.error calls, and after every
// step `ended` of both sessions and `readEnd`/`writeEnd` of every substream.
// The traces must be identical.

// ---- values -------------------------------------------------------------

// A canonical text for any value that can appear in a trace. Stacks differ
// between the implementations (they name their own files), so only their
// presence is kept.
function ser (v, seen = new Set()) {
  if (v === undefined) return 'undefined'
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v)
  if (typeof v === 'string') return v.includes('\n    at ') ? '"<stack>"' : JSON.stringify(v)
  if (typeof v === 'function') return 'fn'
  if (typeof v !== 'object') return String(v)
  if (seen.has(v)) return '<cycle>'
  seen.add(v)
  let out
  if (v instanceof Error) out = `Error(${v.name}: ${v.message})`
  else if (Buffer.isBuffer(v)) out = `Buffer(${v.toString('hex')})`
  else if (Array.isArray(v)) out = '[' + v.map((x) => ser(x, seen)).join(',') + ']'
  else out = '{' + Object.keys(v).map((k) => `${k}:${ser(v[k], seen)}`).join(',') + '}'
  seen.delete(v)
  return out
}

// xorshift32: small, fast, the same sequence everywhere
function rng (seed) {
  let x = (seed >>> 0) || 0x9e3779b9
  const next = () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x
  }
  const r = {
    int: (n) => next() % n,
    chance: (p) => next() / 0x100000000 < p,
    pick: (arr) => arr[next() % arr.length]
  }
  return r
}

// ---- a world: two sessions and what the user does with them -------------

class World {
  constructor (packets, seed, config = {}) {
    this.packets = packets
    this.r = rng(seed)
    this.trace = []
    this.errors = 0
    this.sync = config.sync ?? this.r.chance(0.4) // wiring A.read -> B.write directly
    this.sides = {}
    this.queue = { A: [], B: [] } // packets read by A (for B), and by B
    this.fresh = 0
    for (const name of ['A', 'B']) {
      const handlers = config.handlers ? config.handlers[name] : {
        message: this.r.chance(0.8),
        request: this.r.chance(0.8),
        stream: this.r.chance(0.8),
        close: this.r.chance(0.5)
      }
      this.sides[name] = this.makeSide(name, handlers)
    }
    for (const name of ['A', 'B']) this.wire(name)
  }

  log (...entry) {
    this.trace.push(entry.join(' '))
  }

  // A value for a packet: each kind the protocol carries, and errors.
  value () {
    const r = this.r
    switch (r.int(7)) {
      case 0: return r.int(1000)
      case 1: return 'str' + r.int(100)
      case 2: return { n: r.int(10), s: 'x' }
      case 3: return [r.int(5), 'y']
      case 4: return r.chance(0.5)
      case 5: return null
      default: return Buffer.from([r.int(256), r.int(256)])
    }
  }

  error () {
    return new Error('err' + this.r.int(100))
  }

  // An end argument: true, an error, or sometimes something odd.
  endValue () {
    const k = this.r.int(10)
    if (k < 5) return true
    if (k < 9) return this.error()
    return { message: 'flat', name: 'Plain' }
  }

  makeSide (name, handlers) {
    const world = this
    const side = { name, ps: null, pending: [], subs: [], closeCalls: 0 }
    const opts = {}
    if (handlers.message) opts.message = (v) => world.log(name, 'message', ser(v))
    if (handlers.request) {
      opts.request = (v, cb) => {
        world.log(name, 'request', ser(v))
        const tag = side.pending.length
        const k = world.r.int(10)
        if (k < 3) world.respond(side, cb, tag) // at once, inside the handler
        else side.pending.push({ cb, tag })
      }
    }
    if (handlers.stream) {
      opts.stream = (sub) => {
        world.log(name, 'stream', sub.id)
        world.adopt(side, sub, world.r.int(10))
      }
    }
    if (handlers.close) opts.close = (...args) => world.log(name, 'opts.close', args.length, ...args.map((a) => ser(a)))
    side.ps = this.packets(opts)
    return side
  }

  // The peer of |name|
  other (name) { return name === 'A' ? 'B' : 'A' }

  wire (name) {
    const side = this.sides[name]
    const peer = this.sides[this.other(name)]
    const world = this
    side.ps.read = function (msg, end) {
      world.log(name, 'read', ser(msg), ser(end), arguments.length)
      if (world.sync) peer.ps.write(msg, end)
      else world.queue[name].push([msg, end])
    }
  }

  // Gives a substream its reader: one that records, an echo (the README's
  // `stream.read = stream.write`), or none at all.
  adopt (side, sub, kind) {
    const world = this
    const entry = { sub, tag: `${side.name}:${sub.id}`, reader: null }
    if (kind < 2) {
      // no reader: packet-stream drops what comes
    } else if (kind < 4) {
      entry.reader = function (data, end) {
        world.log(entry.tag, 'sread(echo)', ser(data), ser(end), arguments.length)
        sub.write(data, end)
      }
    } else {
      entry.reader = function (data, end) {
        world.log(entry.tag, 'sread', ser(data), ser(end), arguments.length)
      }
    }
    sub.read = entry.reader
    side.subs.push(entry)
  }

  respond (side, cb, tag) {
    const k = this.r.int(10)
    const label = `${side.name} respond#${tag}`
    if (k < 6) {
      const v = this.value()
      this.log(label, 'ok', ser(v))
      cb(null, v)
    } else if (k < 9) {
      const e = this.error()
      this.log(label, 'error', ser(e))
      cb(e)
    } else {
      this.log(label, 'twice')
      cb(null, 1)
      cb(null, 2) // throws: 'cb called twice from local api'
    }
  }

  // Runs one user action and records what it throws, then the state.
  step (name, fn) {
    try {
      fn()
    } catch (err) {
      this.log(name, 'threw', ser(err))
    }
    this.snapshot()
  }

  snapshot () {
    const parts = []
    for (const name of ['A', 'B']) {
      const side = this.sides[name]
      parts.push(`${name}.ended=${ser(side.ps.ended)}`)
      for (const e of side.subs) {
        parts.push(`${e.tag} r=${ser(e.sub.readEnd)} w=${ser(e.sub.writeEnd)} own=${e.sub.read === e.reader}`)
      }
    }
    this.trace.push('state ' + parts.join(' '))
  }

  // ---- the random scenario ----

  // |late|: the part of the scenario where sessions may end; before it
  // they rarely do, so that most scenarios get to open things first.
  randomStep (late) {
    const r = this.r
    const name = r.chance(0.5) ? 'A' : 'B'
    const side = this.sides[name]
    const ps = side.ps
    let k = r.int(100)
    if (k >= 88 && k < 96 && !late && !r.chance(0.1)) k = r.int(88)
    if (!this.sync && k < 30) {
      // deliver queued packets, one or a few
      const from = this.queue[this.other(name)]
      let n = r.chance(0.7) ? 1 : 1 + r.int(5)
      while (n-- > 0 && from.length) {
        const [msg, end] = from.shift()
        this.step(name, () => ps.write(msg, end))
      }
      return
    }
    if (k < 38) {
      const v = this.value()
      this.log(name, 'do message', ser(v))
      return this.step(name, () => ps.message(v))
    }
    if (k < 48) {
      const v = this.value()
      const tag = `${name} cb#${r.int(1000)}`
      this.log(name, 'do request', ser(v), tag)
      return this.step(name, () => ps.request(v, (...args) => this.log(tag, args.length, ...args.map((a) => ser(a)))))
    }
    if (k < 56 && side.pending.length) {
      const { cb, tag } = side.pending.splice(r.int(side.pending.length), 1)[0]
      return this.step(name, () => this.respond(side, cb, tag))
    }
    if (k < 64) {
      this.log(name, 'do stream')
      return this.step(name, () => {
        const sub = ps.stream()
        this.adopt(side, sub, 4) // always a reader on our own
        this.log(name, 'opened', sub.id)
        if (r.chance(0.6)) sub.write(this.value()) // as muxrpc opens with the call
      })
    }
    if (k < 88 && side.subs.length) {
      const e = r.pick(side.subs)
      const sub = e.sub
      const j = r.int(10)
      if (j < 5) {
        const v = this.value()
        this.log(e.tag, 'do write', ser(v))
        return this.step(name, () => sub.write(v))
      }
      if (j < 7) {
        const err = r.chance(0.7) ? undefined : this.error()
        this.log(e.tag, 'do end', ser(err))
        return this.step(name, () => sub.end(err))
      }
      if (j < 8) {
        const end = this.endValue()
        this.log(e.tag, 'do write(null, end)', ser(end))
        return this.step(name, () => sub.write(null, end))
      }
      const err = r.chance(0.5) ? this.error() : r.chance(0.5) ? true : undefined
      this.log(e.tag, 'do destroy', ser(err))
      return this.step(name, () => sub.destroy(err))
    }
    if (k < 92) {
      const tag = `${name} close#${side.closeCalls++}`
      this.log(name, 'do close', tag)
      return this.step(name, () => ps.close((...args) => this.log(tag, args.length, ...args.map((a) => ser(a)))))
    }
    if (k < 94) {
      const end = r.chance(0.5) ? true : this.error()
      this.log(name, 'do destroy', ser(end))
      return this.step(name, () => ps.destroy(end))
    }
    if (k < 96) {
      const end = r.chance(0.6) ? true : this.error()
      this.log(name, 'do incoming end', ser(end))
      return this.step(name, () => ps.write(null, end))
    }
    // a packet nobody sent: unknown numbers, repeated ends, data after end
    const pkt = this.strayPacket(side)
    this.log(name, 'do stray', ser(pkt))
    this.step(name, () => ps.write(pkt))
  }

  // A packet the peer did not send: an answer or substream data on numbers
  // of ours (open, finished or never used), repeated ends and data after
  // an end on substreams of the peer (reopening finished ones), substreams
  // opened on fresh numbers.
  strayPacket (side) {
    const r = this.r
    const stream = r.chance(0.7)
    const end = r.chance(0.4)
    const value = this.value()
    const theirs = side.subs.filter((e) => e.sub.id < 0)
    const k = r.int(10)
    if (k < 3 && theirs.length) return { req: -r.pick(theirs).sub.id, stream: true, end, value }
    if (k < 5) return { req: 1000 + this.fresh++, stream, end, value }
    const ours = side.subs.filter((e) => e.sub.id > 0).map((e) => e.sub.id)
    const known = ours.length ? r.pick(ours) : 1
    return { req: r.pick([-known, -99, -1, -(known + 1)]), stream, end, value }
  }

  // Delivers everything still queued, then closes both sides gracefully.
  finish () {
    for (let round = 0; round < 50 && !this.sync; round++) {
      let moved = false
      for (const name of ['A', 'B']) {
        const q = this.queue[this.other(name)]
        while (q.length) {
          moved = true
          const [msg, end] = q.shift()
          this.step(name, () => this.sides[name].ps.write(msg, end))
        }
      }
      if (!moved) break
    }
  }
}

// Runs one random scenario; returns its trace.
function randomScenario (packets, seed, steps) {
  const originalError = console.error
  const world = new World(packets, seed)
  console.error = (...args) => {
    // packet-stream-wasm drops reads after close quietly (its documented
    // difference); every other log line must match
    if (args[0] !== 'packet-stream asked to read after closed') world.log('console.error', ser(args[0]))
  }
  try {
    world.log('sync', world.sync)
    const n = steps ?? 20 + world.r.int(80)
    for (let i = 0; i < n; i++) world.randomStep(i > n * 0.7)
    world.finish()
  } finally {
    console.error = originalError
  }
  return world.trace
}

// Index of the first entry where two traces differ, or -1.
function firstDifference (a, b) {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return -1
}

module.exports = { World, randomScenario, firstDifference, ser, rng }
