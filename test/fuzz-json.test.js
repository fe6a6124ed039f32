'use strict'
// Differential fuzzing of how JSON bodies are decoded: codec.decodePackets
// (bodies taped by the core and built without JSON.parse, small bodies of a
// batch joined into one JSON.parse, the rest parsed alone) against
// JSON.parse of each body's UTF-8 text. A seed is a batch of 1 to 80 frames
// (across the batch size of the framer) of generated JSON with awkward
// numbers, strings, escapes, keys and white space, at most one of them
// mutated. Valid bodies must decode to exactly what JSON.parse makes (own
// keys in order, __proto__ as an own key, -0, enumerability, a plain
// prototype); the first invalid body must fail the batch with
// ERR_BAD_BODY.
//
// FUZZ_JS_SECONDS bounds the run (default 8); FUZZ_JS_SEED=n runs seed n
// alone.
const test = require('node:test')
const assert = require('node:assert/strict')
const { codec, errors } = require('..')
const { mulberry32 } = require('./helpers/rng')

const FIRST_SEED = 1
const SEED_COUNT = 200000
const BUDGET_MS = 1000 * Number(process.env.FUZZ_JS_SECONDS || 8)
const ONE_SEED = process.env.FUZZ_JS_SEED ? Number(process.env.FUZZ_JS_SEED) : null

function randomness (seed) {
  const next = mulberry32(Math.imul(seed, 2654435761))
  const r = () => next()
  r.int = (n) => Math.floor(next() * n)
  r.pick = (items) => items[r.int(items.length)]
  r.chance = (p) => next() < p
  return r
}

// Keys that name something of Object.prototype or look like indices,
// strings with lone surrogates, NUL, U+2028 and long runs, numbers at the
// edges of int32, of doubles and of exactness.
const KEYS = ['a', 'b', 'id', 'x', 'type', '__proto__', 'toString', 'constructor', '1', '0', '01', '-1', '4294967295', '4294967294', 'ü', 'é\u0301', '', 'a b', '"', '\\', '\u2028', 'hasOwnProperty', 'length', 'valueOf']
const STRINGS = ['', 'a', 'abc', 'héllo', '\u00e9', '𝄞', '\ud800', '\udc00x', 'a\u0000b', '\u001f', '\u007f', '\u2028\u2029', '"', '\\', '/', 'x'.repeat(70), 'y'.repeat(300), '\uFEFF', 'ü'.repeat(40)]
const NUMBERS = ['0', '-0', '1', '-1', '123456789', '-123456789', '1234567890', '999999999', '-999999999', '2147483647', '-2147483648', '2147483648', '4294967296', '9007199254740993', '1e3', '1E3', '1e-3', '1.5', '-1.5e+10', '0.1', '1e400', '-1e400', '1e-400', '0.0', '10', '100000000000000000000', '0e0', '-0.0', '5e-324', '1.7976931348623157e308', '123.456e-789']

// white space: mostly none, some JSON's, rarely what JSON does not allow
function space (rng) {
  if (rng.chance(0.85)) return ''
  return rng.chance(0.97) ? rng.pick([' ', '\n', '\t', '\r', '  ']) : rng.pick(['\u00a0', '\f', '\v'])
}

// some letters as \uXXXX escapes
function escapeSome (rng, text) {
  return text.replace(/[a-zé]/g, (c) => (rng.chance(0.3) ? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0') : c))
}

function jsonText (rng, depth) {
  switch (rng.int(depth > 4 ? 6 : 9)) {
    case 0: return rng.pick(['null', 'true', 'false'])
    case 1: case 2: return rng.pick(NUMBERS)
    case 3: return JSON.stringify(rng.pick(STRINGS))
    case 4: return escapeSome(rng, JSON.stringify(rng.pick(STRINGS) + rng.int(10)))
    case 5: return JSON.stringify(String(rng.int(1000)))
    case 6: case 7: {
      const members = Array.from({ length: rng.int(6) }, () =>
        space(rng) + JSON.stringify(rng.pick(KEYS)) + space(rng) + ':' + space(rng) + jsonText(rng, depth + 1) + space(rng))
      return '{' + members.join(',') + space(rng) + '}'
    }
    default: {
      const items = Array.from({ length: rng.int(6) }, () => space(rng) + jsonText(rng, depth + 1) + space(rng))
      return '[' + items.join(',') + space(rng) + ']'
    }
  }
}

// |bytes| damaged one way: a bit flipped, a byte dropped or added, cut
// short, something appended or prepended, a few bytes repeated
function mutate (rng, bytes) {
  if (bytes.length === 0) return Buffer.from(rng.pick(['', ' ', '[', '{']))
  const b = Buffer.from(bytes)
  const at = rng.int(b.length)
  switch (rng.int(7)) {
    case 0:
      b[at] ^= 1 << rng.int(8)
      return b
    case 1: return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)])
    case 2: return Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick([0x22, 0x5c, 0x2c, 0x5d, 0x7d, 0x3a, 0x00, 0x80, 0xff, 0xc3, 0xed, 0x20, 0x30, 0x2d, 0x2e, 0x65])]), b.subarray(at)])
    case 3: return b.subarray(0, at)
    case 4: return Buffer.concat([b, Buffer.from(rng.pick([',1', ']', '}', ' x', '0', '"', ',', '\u0000']))])
    case 5: return Buffer.concat([Buffer.from(rng.pick(['[', '{', '"', ',', ' ', '\ufeff'])), b])
    default: return Buffer.concat([b.subarray(0, at), b.subarray(at, at + 4), b.subarray(at)])
  }
}

function jsonFrame (body) {
  const head = Buffer.alloc(9)
  head[0] = 2 // a JSON body
  head.writeUInt32BE(body.length, 1)
  head.writeInt32BE(7, 5)
  return Buffer.concat([head, body])
}

// A value written out so that two values that JSON.parse could tell apart
// differ: -0, own keys in order with their enumerability, and a prototype
// other than Object.prototype.
function canonical (v) {
  if (Object.is(v, -0)) return '-0'
  if (v === null || typeof v !== 'object') return JSON.stringify(v) + ':' + typeof v
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']'
  if (Object.getPrototypeOf(v) !== Object.prototype) return '<not a plain object>'
  return '{' + Reflect.ownKeys(v).map((k) => {
    const { value, enumerable } = Object.getOwnPropertyDescriptor(v, k)
    return JSON.stringify(k) + ':' + canonical(value) + (enumerable ? '' : ' (not enumerable)')
  }).join(',') + '}'
}

const show = (text) => JSON.stringify(text.slice(0, 200))

// What is wrong with the decoding of seed |seed|'s batch, or null.
function checkSeed (seed) {
  const rng = randomness(seed)
  const count = rng.pick([1, 2, 3, 5, 64, 65, 80])
  const bodies = Array.from({ length: count }, () => {
    if (rng.chance(0.03)) return Buffer.from(JSON.stringify({ a: 'z'.repeat(rng.pick([1000, 1030, 2000])), b: [1, 2] }))
    return Buffer.from(rng.chance(0.1) ? JSON.stringify(rng.pick(STRINGS)) : jsonText(rng, 0))
  })
  // one bad body at most: the decoder stops at the first
  if (rng.chance(0.5)) {
    const i = rng.int(count)
    bodies[i] = mutate(rng, bodies[i])
  }
  const expected = bodies.map((body) => {
    try {
      return { value: JSON.parse(body.toString('utf8')) }
    } catch (err) {
      return null
    }
  })
  const firstBad = expected.indexOf(null)
  let got
  try {
    got = codec.decodePackets(Buffer.concat(bodies.map(jsonFrame)))
  } catch (err) {
    if (firstBad < 0) return `rejected valid JSON (${err.message}); bodies: ${bodies.slice(0, 5).map((b) => show(b.toString())).join(', ')}`
    if (err.code !== errors.ERR_BAD_BODY) return `invalid JSON failed with ${err.code} (${err.message}), not ERR_BAD_BODY`
    return null
  }
  if (firstBad >= 0) return `accepted invalid JSON ${show(bodies[firstBad].toString())} as ${show(canonical(got[firstBad] && got[firstBad].value))}`
  if (got.length !== count) return `${got.length} packets from ${count} frames`
  for (let i = 0; i < count; i++) {
    const a = canonical(got[i].value)
    const b = canonical(expected[i].value)
    if (a !== b) return `body ${i} of ${count} ${show(bodies[i].toString())} decoded as ${show(a)}, JSON.parse makes ${show(b)}`
  }
  return null
}

test('JSON bodies decode as JSON.parse makes them, and bad ones fail', (t) => {
  if (ONE_SEED !== null) assert.ok(Number.isSafeInteger(ONE_SEED), `FUZZ_JS_SEED must be an integer, not ${process.env.FUZZ_JS_SEED}`)
  const [first, final] = ONE_SEED !== null ? [ONE_SEED, ONE_SEED] : [FIRST_SEED, FIRST_SEED + SEED_COUNT - 1]
  const started = Date.now()
  let seed = first
  let failure = null
  for (; seed <= final && Date.now() - started < BUDGET_MS; seed++) {
    failure = checkSeed(seed)
    if (failure) break
  }
  const ran = seed - first + (failure ? 1 : 0)
  t.diagnostic(`${ran} seeds (${first}..${first + ran - 1}) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  // the tape caches strings and object shapes across batches: a seed that
  // passes alone may fail only after others
  if (failure) {
    const before = seed > first ? ` (seeds ${first}..${seed - 1} ran before it)` : ''
    assert.fail(`seed ${seed} failed: ${failure}\nreplay: FUZZ_JS_SEED=${seed} node --test test/fuzz-json.test.js${before}`)
  }
})
