'use strict'
// JSON bodies are read from the core's tape (c/ps_json.h) instead of
// JSON.parse wherever the core can describe them: every value must be
// exactly what JSON.parse makes of the same bytes (the same numbers, -0
// included, strings, key order, own "__proto__" keys, plain prototypes), and
// every body JSON.parse refuses must fail the decode with ERR_BAD_BODY.
// Bodies are decoded through the public codec, many per chunk, so that they
// meet the core in batches as they do on a socket.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const { codec } = require('..')
const C = require('../js/constants')
const { mulberry32: prng } = require('./helpers/rng')

// A JSON frame of the bytes |body| (not checked) for request |req|.
function jsonFrame (body, req) {
  const header = Buffer.alloc(9)
  header[0] = C.types.TYPE_JSON
  header.writeUInt32BE(body.length, 1)
  header.writeInt32BE(req, 5)
  return Buffer.concat([header, body])
}

// JSON.parse of |body| as the reference decodes it (UTF-8, with
// replacement), or the error.
function parsed (body) {
  try {
    return { value: JSON.parse(body.toString('utf8')) }
  } catch (err) {
    return { error: err }
  }
}

// Equal as JSON.parse makes values: deep strict equality (prototypes, own
// keys, Object.is for numbers) and the same key order at every level.
function assertSame (actual, expected, what) {
  assert.deepStrictEqual(actual, expected, what)
  const order = (v) => v && typeof v === 'object'
    ? Array.isArray(v) ? v.map(order) : Object.keys(v).map((k) => [k, order(v[k])])
    : null
  assert.deepStrictEqual(order(actual), order(expected), `${what}: key order`)
}

// Decodes |bodies| (Buffers) as consecutive JSON frames in one chunk and
// compares each with JSON.parse; every body must be valid.
function checkAll (bodies, what) {
  const bytes = Buffer.concat(bodies.map((b, i) => jsonFrame(b, i + 1)))
  const packets = codec.decodePackets(bytes)
  assert.equal(packets.length, bodies.length, what)
  packets.forEach((p, i) => {
    const expected = parsed(bodies[i])
    assert.ok(!expected.error, `${what}: body ${i} is valid JSON: ${bodies[i]}`)
    assertSame(p.value, expected.value, `${what}: ${bodies[i].toString('utf8')}`)
  })
}

// One body alone: the same value as JSON.parse, or ERR_BAD_BODY exactly
// when JSON.parse refuses it (a valid body before it must come through).
function checkOne (body, what) {
  const expected = parsed(body)
  const bytes = Buffer.concat([jsonFrame(Buffer.from('{"before":1}'), 1), jsonFrame(body, 2)])
  const out = []
  const framer = new codec.Framer()
  try {
    const err = framer.decode(bytes, out)
    if (expected.error) {
      assert.ok(err, `${what}: refused: ${JSON.stringify(body.toString('latin1'))}`)
      assert.equal(err.code, C.errors.ERR_BAD_BODY, what)
      assert.deepStrictEqual(out.map((p) => p.value), [{ before: 1 }], what)
    } else {
      assert.equal(err, null, `${what}: ${JSON.stringify(body.toString('latin1'))}: ${err && err.message}`)
      assert.equal(out.length, 2)
      assertSame(out[1].value, expected.value, `${what}: ${JSON.stringify(body.toString('latin1'))}`)
    }
  } finally {
    framer.free()
  }
}

// ---- random JSON ------------------------------------------------------------

function generator (rand) {
  const pick = (xs) => xs[Math.floor(rand() * xs.length)]
  const space = () => rand() < 0.8 ? '' : pick([' ', '\n', '\t', '\r', '  \n '])
  const chars = ['a', 'b', 'z', '0', ' ', ',', ':', '{', '}', '[', ']', '\\"', '\\\\', '\\/', '\\n', '\\t', '\\b', '\\f', '\\r',
    '\\u0041', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '\\udfff', 'é', '€', '😀', '\u2028', '\u007f', '\u0080']
  const keys = ['x', 'y', 'id', 'name', 'args', 'type', '', '0', '1', '10', '__proto__', '\\u005f_proto__', 'constructor',
    'toString', 'hasOwnProperty', 'é', 'a b', 'a"b'.replace('"', '\\"'), 'k'.repeat(40), 'k'.repeat(300)]
  function string (maxLen) {
    let s = ''
    const n = Math.floor(rand() * maxLen)
    for (let i = 0; i < n; i++) s += rand() < 0.7 ? pick(['a', 'b', 'c', 'x', 'Y', '9', '-', '_']) : pick(chars)
    return '"' + s + '"'
  }
  function number () {
    return pick([
      () => String(Math.floor(rand() * 1000)),
      () => String(-Math.floor(rand() * 1000)),
      () => '0', () => '-0', () => '-0.0', () => '0.5', () => '-1.25e-3', () => '1E400', () => '-1e400', () => '1e-400',
      () => '999999999', () => '-999999999', () => '1000000000', () => '-1000000000', () => '2147483647', () => '2147483648',
      () => '-2147483649', () => '9007199254740993', () => '12345678901234567890', () => '0.1', () => '1e2', () => '1E+2',
      () => String(rand() * 1e6), () => String(rand() * 1e-6), () => '4.35', () => '1.7976931348623157e308'
    ])()
  }
  function value (depth) {
    const r = rand()
    if (depth > 4 || r < 0.45) {
      return pick([() => number(), () => string(12), () => string(40), () => 'true', () => 'false', () => 'null'])()
    }
    const n = Math.floor(rand() * 5)
    const items = []
    if (r < 0.7) {
      for (let i = 0; i < n; i++) items.push(space() + value(depth + 1) + space())
      return '[' + items.join(',') + (n ? '' : space()) + ']'
    }
    for (let i = 0; i < n; i++) {
      const key = rand() < 0.8 ? pick(keys) : string(8).slice(1, -1)
      items.push(space() + '"' + key + '"' + space() + ':' + space() + value(depth + 1) + space())
    }
    return '{' + items.join(',') + (n ? '' : space()) + '}'
  }
  return () => space() + value(0) + space()
}

// ---- tests --------------------------------------------------------------------

test('json: random JSON bodies, many per chunk, decode to what JSON.parse makes of them', () => {
  const rand = prng(20261125)
  const next = generator(rand)
  for (let round = 0; round < 200; round++) {
    const bodies = Array.from({ length: 150 }, () => Buffer.from(next()))
    checkAll(bodies, `round ${round}`)
  }
})

test('json: mutated bodies decode as JSON.parse decodes them, or fail with ERR_BAD_BODY exactly when it throws', () => {
  const rand = prng(7)
  const next = generator(rand)
  const alphabet = Buffer.from(' ,:{}[]"\\0123456789-+.eEtrufalsn\t\n\r\x00\x01\x1f\x7f\x80\xc3\xa9\xe2\xff')
  let refused = 0
  for (let i = 0; i < 20000; i++) {
    const body = Buffer.from(next())
    const k = Math.floor(rand() * 3)
    let mutated = body
    for (let m = 0; m <= k; m++) {
      const at = Math.floor(rand() * (mutated.length + 1))
      const byte = Buffer.from([alphabet[Math.floor(rand() * alphabet.length)]])
      const op = rand()
      if (op < 0.4) mutated = Buffer.concat([mutated.subarray(0, at), byte, mutated.subarray(at + 1)])
      else if (op < 0.7) mutated = Buffer.concat([mutated.subarray(0, at), byte, mutated.subarray(at)])
      else mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1)])
    }
    if (mutated.length === 0) continue
    if (parsed(mutated).error) refused++
    checkOne(mutated, `mutation ${i}`)
  }
  assert.ok(refused > 4000, `enough of the mutations are invalid JSON (${refused})`)
})

test('json: a shape seen many times (built by a function made for it) and shapes that evict each other stay exact', () => {
  const rand = prng(3)
  // one shape, far past the point where a function is made for it, with
  // values of every kind, nested objects of other shapes included
  const bodies = []
  for (let i = 0; i < 1200; i++) {
    const v = { x: i, y: 'abc', z: i % 3 ? null : [i, { x: -i, inner: 'é' }], w: i % 5 === 0 ? -0 : i / 7 }
    bodies.push(Buffer.from(JSON.stringify(v).replace('"w":0', '"w":-0')))
  }
  checkAll(bodies, 'one shape')
  // thousands of shapes cycle through the slots; each comes back later
  const shapes = Array.from({ length: 3000 }, (_, i) => ['a' + i, 'b' + (i % 17), 'c'])
  for (let round = 0; round < 4; round++) {
    const batch = []
    for (let i = 0; i < 3000; i++) {
      const keys = shapes[Math.floor(rand() * shapes.length)]
      batch.push(Buffer.from('{' + keys.map((k, j) => `"${k}":${j === 1 ? `"${k}"` : i}`).join(',') + '}'))
    }
    checkAll(batch, `shapes, round ${round}`)
  }
  // the same keys in another order, and one more or fewer, are other shapes
  checkAll(['{"x":1,"y":2}', '{"y":1,"x":2}', '{"x":1}', '{"x":1,"y":2,"z":3}', '{"x":1,"y":2}', '{"x":1,"x":2}', '{"1":1,"0":2,"b":3,"a":4}']
    .flatMap((s) => Array(300).fill(s)).map((s) => Buffer.from(s)), 'orders')
})

test('json: short strings are cached by the core, and every cached string is the one its bytes say', () => {
  const rand = prng(11)
  const words = Array.from({ length: 5000 }, (_, i) => 'w' + i.toString(36) + (i % 7 ? '' : 'x'.repeat(i % 24)))
  for (let round = 0; round < 3; round++) {
    const bodies = Array.from({ length: 4000 }, () => {
      const w = words[Math.floor(rand() * words.length)]
      return Buffer.from(rand() < 0.5 ? JSON.stringify(w) : JSON.stringify({ [w]: w, v: [w, w] }))
    })
    checkAll(bodies, `strings, round ${round}`)
  }
})

test('json: "__proto__" keys become own properties, as JSON.parse makes them, however often they come', () => {
  const texts = ['{"__proto__":{"polluted":1},"b":2}', '{"\\u005f_proto__":[1]}', '{"a":{"__proto__":null}}', '[{"__proto__":1,"__proto__":2}]']
  checkAll(texts.flatMap((s) => Array(400).fill(s)).map((s) => Buffer.from(s)), '__proto__')
  const packets = codec.decodePackets(jsonFrame(Buffer.from('{"__proto__":{"polluted":1}}'), 1))
  const v = packets[0].value
  assert.equal(Object.getPrototypeOf(v), Object.prototype)
  assert.ok(Object.prototype.hasOwnProperty.call(v, '__proto__'))
  assert.equal(v.polluted, undefined)
  assert.equal({}.polluted, undefined)
})

test('json: deep nesting, long bodies and batches whose tapes do not fit are left to JSON.parse, with the same values', () => {
  const deep = '['.repeat(200) + '{"x":[1,"a"]}' + ']'.repeat(200)
  const long = JSON.stringify({ list: Array.from({ length: 400 }, (_, i) => ({ i, s: 'v' + i })) })
  // bodies of many small tokens: a batch of 64 of them is more than the tape holds
  const dense = '[' + Array(300).fill('""').join(',') + ']'
  checkAll([deep, long, ...Array(64).fill(dense), deep, '{"tail":true}'].map((s) => Buffer.from(s)), 'left to JSON.parse')
})

test('json: where new Function is not allowed (a Content-Security-Policy), every shape is still built right', () => {
  // a child process whose Function refuses, as a page under a CSP without
  // unsafe-eval does; the decoder must notice and go on without it
  const script = `
    globalThis.Function = function () { throw new EvalError('refused by policy') }
    const { codec } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const values = Array.from({ length: 2000 }, (_, i) => ({ x: i, y: 'abc', z: { k: i % 2 === 0 } }))
    const bytes = codec.encodePackets(values.map((value, i) => ({ req: i + 1, stream: false, end: false, value })))
    const out = codec.decodePackets(bytes).map((p) => p.value)
    require('node:assert/strict').deepStrictEqual(out, values)
    console.log('ok', out.length)
  `
  assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), 'ok 2000')
})

test('json: numbers and booleans, written without JSON.stringify (int32s by the core), are the bytes packet-stream-codec writes', () => {
  const ref = require('packet-stream-codec')
  const pull = require('pull-stream')
  const rand = prng(5)
  const values = [0, -0, 1, -1, 9, 10, -10, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 1.5, NaN, Infinity, -Infinity, 1e21, 1e-7, 123456789012, 2 ** 53 + 2, 5e-324, Number.MAX_VALUE, true, false]
  for (let i = 0; i < 500; i++) values.push((rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20), Math.floor(rand() * 2 ** 31) * (rand() < 0.5 ? -1 : 1))
  const packets = values.map((value, i) => ({ req: i + 1, stream: i % 2 === 0, end: i % 3 === 0, value }))
  let expected = null
  pull(pull.values(packets), ref.encode(), pull.collect((err, bufs) => { assert.ifError(err); expected = Buffer.concat(bufs) }))
  assert.deepStrictEqual(Buffer.from(codec.encodePackets(packets)), expected)
})

test('json: keys that Object.prototype has are own properties, also where Object.prototype is frozen (hardened JS)', () => {
  const script = `
    Object.freeze(Object.prototype)
    const { codec } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const texts = ['{"toString":1,"constructor":{"valueOf":2}}', '{"hasOwnProperty":[],"x":1}', '{"\\\\u0074oString":3}']
    const bodies = []
    for (let i = 0; i < 1200; i++) bodies.push(texts[i % texts.length])
    const frames = Buffer.concat(bodies.map((t, i) => {
      const body = Buffer.from(t)
      const head = Buffer.alloc(9)
      head[0] = 2
      head.writeUInt32BE(body.length, 1)
      head.writeInt32BE(i + 1, 5)
      return Buffer.concat([head, body])
    }))
    const out = codec.decodePackets(frames).map((p) => p.value)
    require('node:assert/strict').deepStrictEqual(out, bodies.map((t) => JSON.parse(t)))
    console.log('ok', out.length)
  `
  assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), 'ok 1200')
})

test('json: in the browser bundle (no Buffer), a U+FEFF that starts a string or key is kept, and a body that starts with one is refused, as JSON.parse does', () => {
  const bodies = ['"\uFEFFa"', '{"\uFEFFk":"\uFEFF"}', '["\\n\uFEFF","\uFEFF\\n"]', '\uFEFF1']
  const script = `
    delete globalThis.Buffer
    const { codec } = await import(${JSON.stringify(path.join(__dirname, '..', 'js', 'browser.mjs'))})
    const enc = new TextEncoder()
    const out = ${JSON.stringify(bodies)}.map((text) => {
      const body = enc.encode(text)
      const frame = new Uint8Array(9 + body.length)
      frame[0] = 2
      new DataView(frame.buffer).setUint32(1, body.length)
      new DataView(frame.buffer).setInt32(5, 1)
      frame.set(body, 9)
      try { return { value: codec.decodePackets(frame)[0].value } } catch (err) { return { code: err.code } }
    })
    console.log(JSON.stringify(out))
  `
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }))
  bodies.forEach((text, i) => {
    const expected = parsed(Buffer.from(text))
    if (expected.error) assert.deepStrictEqual(out[i], { code: C.errors.ERR_BAD_BODY }, text)
    else assert.deepStrictEqual(out[i], { value: expected.value }, text)
  })
})

test('json: arrays get own elements, as JSON.parse makes them, and no user code runs while a body is read (an accessor on Array.prototype)', () => {
  // the accessor records what it sees and decodes with another framer
  // meanwhile, which would disturb a read under way if it were called
  const script = `
    const { codec } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const calls = []
    Object.defineProperty(Array.prototype, '7', {
      configurable: true,
      get () { calls.push('get'); return 'from the accessor' },
      set (v) { calls.push('set'); codec.decodePackets(codec.encodePackets([{ req: 1, stream: false, end: false, value: ['secret', 1, 2, 3, 4, 5, 6, 7, 8] }])) }
    })
    const texts = ['[0,1,2,3,4,5,6,7,8]', '{"a":[0,1,2,3,4,5,6,[7],8,{"b":[0,1,2,3,4,5,6,7]}]}', '[[],[0,1,2,3,4,5,6,"x","y"]]']
    let same = 0 // (no array of results here: it would meet the accessor itself)
    for (let round = 0; round < 300; round++) {
      for (const text of texts) {
        const value = codec.decodePackets(codec.encodePackets([{ req: 1, stream: false, end: false, value: JSON.parse(text) }]))[0].value
        if (JSON.stringify(value) === text && JSON.stringify(Object.keys(value)) === JSON.stringify(Object.keys(JSON.parse(text)))) same++
      }
    }
    delete Array.prototype[7]
    console.log(JSON.stringify({ same, calls: calls.length }))
  `
  assert.deepStrictEqual(JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })), { same: 900, calls: 0 })
})
