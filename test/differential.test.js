'use strict'
// packet-stream-wasm against packet-stream@2.0.6: scripted scenarios for
// every rule of the contract (DESIGN.md) and the reference's own tests, then
// thousands of seeded random scenarios. Each runs against both, and the
// traces of everything observable must be identical.
const test = require('node:test')
const assert = require('node:assert/strict')
const reference = require('packet-stream')
const ours = require('..')
const { randomScenario, firstDifference, ser } = require('./diff/harness')

// Runs |fn| against one implementation with a recorder; returns the trace.
function script (packets, fn) {
  const trace = []
  const log = (...parts) => trace.push(parts.map((p) => (typeof p === 'string' ? p : ser(p))).join(' '))
  const rec = (tag) => (...args) => log(tag, args.length, ...args)
  const originalError = console.error
  console.error = (...args) => {
    if (args[0] !== 'packet-stream asked to read after closed') log('console.error', ser(args[0]))
  }
  // a pair wired synchronously, each read recorded
  const pair = (optsA = {}, optsB = {}) => {
    const a = packets(optsA)
    const b = packets(optsB)
    a.read = (msg, end) => { log('A read', msg, end); b.write(msg, end) }
    b.read = (msg, end) => { log('B read', msg, end); a.write(msg, end) }
    return [a, b]
  }
  const attempt = (tag, f) => {
    try { f() } catch (err) { log(tag, 'threw', err) }
  }
  try {
    fn({ packets, log, rec, pair, attempt })
  } finally {
    console.error = originalError
  }
  return trace
}

// Compares the two traces; returns ours for further assertions.
function same (name, fn) {
  test(name, () => {
    const a = script(reference, fn)
    const b = script(ours, fn)
    const i = firstDifference(a, b)
    assert.equal(i, -1, `first difference at ${i}:\n  reference: ${a[i]}\n  ours:      ${b[i]}`)
    fn.check?.(b)
  })
}

const has = (trace, text) => assert.ok(trace.some((l) => l.includes(text)), `trace has "${text}":\n${trace.join('\n')}`)

// ---- the contract, rule by rule ----

same('ids count up from 1; responses travel on the negated id', Object.assign(({ pair, rec }) => {
  const [a] = pair({}, { request: (v, cb) => cb(null, v + 1) })
  a.request(1, rec('cb1'))
  a.stream().write('opens 2')
  a.request(3, rec('cb3'))
}, {
  check: (t) => {
    has(t, 'A read {req:1,stream:false,end:false,value:1}')
    has(t, 'B read {value:2,end:false,req:-1}')
    has(t, 'A read {req:2,stream:true,end:false,value:"opens 2"}')
    has(t, 'A read {req:3,stream:false,end:false,value:3}')
  }
}))

same('messages have req 0', Object.assign(({ pair, log }) => {
  const [a] = pair({}, { message: (m) => log('B message', m) })
  for (const m of ['hello', { a: 1 }, [1, 2], null, 0, Buffer.from('x')]) a.message(m)
}, { check: (t) => has(t, 'A read {req:0,stream:false,end:false,value:"hello"}') }))

same('error values are flattened to {message, name, stack}', Object.assign(({ pair, rec }) => {
  const [a] = pair({}, {
    request: (v, cb) => { const e = new TypeError('bad ' + v); e.extra = 1; cb(e) },
    stream: (s) => { s.read = (d, end) => { if (!end) s.end(new RangeError('stop')) } }
  })
  a.request('x', rec('cb'))
  const s = a.stream()
  s.read = rec('s.read')
  s.write(1)
}, {
  check: (t) => {
    has(t, 'B read {value:{message:"bad x",name:"TypeError",stack:"<stack>"},end:true,req:-1}')
    has(t, 'cb 2 {message:"bad x",name:"TypeError",stack:"<stack>"} null')
    has(t, 's.read 2 null {message:"stop",name:"RangeError",stack:"<stack>"}')
  }
}))

same('no request handler: the NO_REQUEST_HANDLER error response', Object.assign(({ pair, rec }) => {
  const [a] = pair({}, {})
  a.request(7, rec('cb'))
}, { check: (t) => has(t, 'cb 2 {message:"Unable to handle requests",name:"NO_REQUEST_HANDLER",stack:null} null') }))

same('a request handler that calls back twice throws', Object.assign(({ pair, rec, attempt }) => {
  let again
  const [a] = pair({}, { request: (v, cb) => { cb(null, v * 2); again = cb } })
  a.request(7, rec('cb'))
  attempt('second call', () => again(null, 1))
}, { check: (t) => has(t, 'second call threw Error(Error: cb called twice from local api)') }))

same('while closing: request calls back "parent stream is closing", stream throws it', Object.assign(({ pair, rec, attempt }) => {
  const [a] = pair({}, { request: () => {} })
  a.request(1, rec('pending'))
  a.close(rec('close'))
  a.request(2, rec('late'))
  attempt('stream', () => a.stream())
}, {
  check: (t) => {
    has(t, 'late 1 Error(Error: parent stream is closing)')
    has(t, 'stream threw Error(Error: parent stream is closing)')
  }
}))

same('close waits for every open request and substream, then sends the end once', Object.assign(({ pair, rec, log }) => {
  let answer
  const [a] = pair({ close: rec('opts.close') }, {
    request: (v, cb) => { answer = cb },
    stream: (s) => { s.read = (d, end) => { log('B got', d, end); if (end) s.end() } }
  })
  a.request(1, rec('cb'))
  const s = a.stream()
  s.read = rec('s.read')
  s.write('x')
  a.close(rec('close1'))
  a.close(rec('close2'))
  log('-- answer')
  answer(null, 'done')
  log('-- end the substream')
  s.end()
  log('-- after')
  a.close(rec('close3'))
}, {
  check: (t) => {
    // nothing before the substream ended; then the end once, each callback once
    assert.ok(t.indexOf('-- end the substream') < t.findIndex((l) => l.startsWith('A read null true')))
    assert.equal(t.filter((l) => l.startsWith('A read null true')).length, 1)
    assert.equal(t.filter((l) => l.startsWith('close1 1')).length, 1)
    assert.equal(t.filter((l) => l.startsWith('close2 1')).length, 1)
    has(t, 'close3 0')
  }
}))

same('an incoming end destroys everything open with "unexpected end of parent stream"', Object.assign(({ pair, rec, log }) => {
  const [a] = pair({ close: rec('opts.close') }, { request: () => {}, stream: (s) => { s.read = () => {} } })
  a.request(1, rec('cb1'))
  a.request(2, rec('cb2'))
  const s = a.stream()
  s.read = rec('s.read')
  s.write('x')
  a.write(null, true)
  log('ended', a.ended, 'readEnd', s.readEnd, 'writeEnd', s.writeEnd)
}, {
  check: (t) => {
    has(t, 'cb1 2 Error(Error: unexpected end of parent stream) undefined')
    has(t, 's.read 2 null Error(Error: unexpected end of parent stream)')
    has(t, 'opts.close 1 Error(Error: unexpected end of parent stream)')
  }
}))

same('an incoming end with an error hands that error to everything open', Object.assign(({ packets, rec }) => {
  const a = packets({ close: rec('opts.close') })
  a.read = rec('A read')
  a.request(1, rec('cb'))
  a.write(null, new Error('boom'))
}, { check: (t) => has(t, 'cb 2 Error(Error: boom) undefined') }))

same('an incoming end with nothing open calls the close callbacks with null', Object.assign(({ packets, rec }) => {
  const a = packets({ close: rec('opts.close') })
  a.read = rec('A read')
  a.write(null, true)
  a.close(rec('close after'))
}, { check: (t) => has(t, 'opts.close 1 null') }))

same('ended, readEnd, writeEnd and destroy on sessions and substreams', ({ pair, rec, log }) => {
  const subs = []
  const [a, b] = pair({}, { stream: (s) => { subs.push(s); s.read = rec('B s.read') } })
  const s1 = a.stream()
  const s2 = a.stream()
  s1.read = rec('s1.read')
  s2.read = rec('s2.read')
  s1.write(1)
  s2.write(2)
  const show = (label) => log(label, a.ended, b.ended, ...[s1, s2, ...subs].map((s) => `${s.id}:${ser(s.readEnd)}/${ser(s.writeEnd)}`))
  show('open')
  s1.destroy(new Error('s1 gone'))
  show('s1 destroyed')
  subs[1].destroy()
  show('B side of s2 destroyed without an error')
  s2.destroy(true)
  show('s2 destroyed with true')
  a.destroy(new Error('session gone'))
  show('a destroyed')
  b.destroy()
  show('b destroyed without an error')
})

same('a substream reader that throws while being destroyed is logged, the cleanup goes on', ({ packets, rec, log }) => {
  const a = packets({})
  a.read = rec('A read')
  const s = a.stream()
  s.read = () => { throw new Error('reader failed') }
  const t = a.stream()
  t.read = rec('t.read')
  a.destroy(true)
  log('t ended', t.readEnd, t.writeEnd)
})

same('stray packets: data for unknown substreams, answers to nothing, repeated ends', ({ packets, rec, log }) => {
  const a = packets({ stream: (s) => { s.read = rec('s' + s.id) } })
  a.read = rec('A read')
  a.write({ req: -5, stream: true, end: false, value: 'who?' })
  a.write({ req: -5, stream: false, end: false, value: 'answer to nothing' })
  a.write({ req: 3, stream: true, end: false, value: 'opens -3' })
  a.write({ req: 3, stream: true, end: true, value: true })
  a.write({ req: 3, stream: true, end: true, value: true })
  a.write({ req: 3, stream: true, end: false, value: 'after its end' })
  log('done')
})

same('a peer that reopens the number of a finished substream', ({ packets, rec, log }) => {
  const seen = []
  const a = packets({ stream: (s) => { seen.push(s); s.read = rec('s' + seen.length) } })
  a.read = rec('A read')
  a.write({ req: 4, stream: true, end: false, value: 'first' })
  seen[0].end() // our side ends
  a.write({ req: 4, stream: true, end: true, value: true }) // theirs: finished, not destroyed
  a.write({ req: 4, stream: true, end: false, value: 'second life' }) // a new substream
  seen[0].destroy() // the reference forgets the new one here, by number
  a.write({ req: 4, stream: true, end: false, value: 'third' })
  log('substreams', seen.length)
})

same('the default read warns', ({ packets }) => {
  const a = packets({})
  a.message('nobody listens')
})

// ---- packet-stream's own tests (test/messages.js), as scenarios ----

same('reference test: messages', ({ pair, log }) => {
  const [, b] = pair({ message: (m) => log('A message', m) }, {})
  ;['hello', 'foo', 'bar'].forEach((m) => b.message(m))
})

same('reference test: stream', ({ pair, rec }) => {
  const [, b] = pair({ stream: (s) => { s.read = s.write.bind(s) } }, {})
  const s = b.stream()
  s.read = rec('s.read')
  ;[1, 2, 3, 4, 5].forEach((d) => s.write(d))
  s.end()
})

same('reference test: error async when stream ends', ({ packets, rec, log }) => {
  const a = packets({})
  a.request({ foo: true }, (err) => log('cb', err, a.ended))
  log('ended before', a.ended)
  a.write(null, true)
  rec('x')
})

same('reference test: close after request finishes (answer later)', ({ pair, rec, log }) => {
  let later
  const [, b] = pair({ request: (v, cb) => { later = () => cb(null, v * 2) } }, {})
  b.request(7, rec('cb'))
  b.close(rec('close'))
  log('-- later')
  later()
})

same('reference test: streams, close / receive stream, then close', ({ pair, rec, log }) => {
  const echoes = []
  const [a, b] = pair({
    stream: (s) => {
      s.read = (data, end) => echoes.push(() => s.write(data, end))
      a.close(rec('A close'))
    }
  }, {})
  const s = b.stream()
  b.close(rec('B close'))
  s.read = rec('s.read')
  ;[1, 2, 3, 3, 5].forEach((d) => s.write(d))
  s.write(null, true)
  log('-- echo')
  while (echoes.length) echoes.shift()()
})

same('reference test: double close', ({ packets, rec }) => {
  const a = packets({ close: rec('opts.close') })
  a.close(() => { rec('close 1')(); a.close(rec('close 2')) })
})

same('reference test: properly close if destroy called with an open request', ({ pair, rec }) => {
  const [, b] = pair({ request: () => {} }, { close: rec('B opts.close') })
  b.request(7, rec('cb'))
  b.destroy(true)
})

same('reference test: destroy sends not more than one message', ({ packets, rec }) => {
  const a = packets({ close: rec('opts.close') })
  a.read = rec('A read')
  const s1 = a.stream()
  const s2 = a.stream()
  s1.read = () => {}
  s2.read = () => {}
  a.destroy(true)
})

same('reference test: close with an error destroys with that error', ({ pair, rec }) => {
  const expected = new Error('a sudden but inevitable close')
  const [, b] = pair({ request: () => {} }, { close: rec('B opts.close') })
  b.request(7, rec('cb'))
  b.destroy(expected)
})

// ---- beyond the reference ----

test('read and write work when assigned without bind', () => {
  const got = []
  const a = ours({ request: (v, cb) => cb(null, v + 1), stream: (s) => { s.read = s.write.bind(s) } })
  const b = ours({})
  a.read = b.write
  b.read = a.write
  b.request(1, (err, v) => got.push([err, v]))
  const s = b.stream()
  s.read = (d, end) => got.push(['s', d, end])
  s.write('echo')
  s.end()
  assert.deepEqual(got, [[null, 2], ['s', 'echo', undefined], ['s', null, true]])
})

test('reads after close are dropped quietly unless debugging', () => {
  const logged = []
  const originalError = console.error
  console.error = (...args) => logged.push(args[0])
  try {
    const a = ours({})
    a.read = () => {}
    a.close(() => {})
    a.message('after close')
    assert.deepEqual(logged, [])
    ours.debug = true
    a.message('after close, debugging')
    assert.deepEqual(logged, ['packet-stream asked to read after closed'])
  } finally {
    ours.debug = false
    console.error = originalError
  }
})

test('a close callback that throws: the others still hear the end once, the session is freed, the first throw reaches the caller', async () => {
  const heard = []
  const warnings = []
  const onwarning = (w) => warnings.push(w.message)
  process.on('warning', onwarning)
  try {
    const a = ours({ close (err) { heard.push(['opts.close', err]); throw new Error('first') } })
    a.read = () => {}
    assert.ok(a.coreMemory > 0)
    assert.throws(() => a.close((err) => {
      heard.push(['cb 1', err])
      throw new Error('second')
    }), /first/)
    assert.deepEqual(heard, [['opts.close', undefined], ['cb 1', undefined]])
    assert.equal(a.coreMemory, 0, 'the core freed the session')
    // closed: a late close is answered at once, a request refused
    a.close((err) => heard.push(['late close', err]))
    a.request('x', (err) => heard.push(['late request', err.message]))
    assert.deepEqual(heard.slice(2), [['late close', undefined], ['late request', 'parent stream is closing']])
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(warnings, ['second'])
  } finally {
    process.off('warning', onwarning)
  }
})

// ---- random scenarios ----

test('random scenarios: identical traces', () => {
  const count = Number(process.env.DIFF_SCENARIOS || 5000)
  const first = Number(process.env.DIFF_SEED || 1)
  for (let seed = first; seed < first + count; seed++) {
    const a = randomScenario(reference, seed)
    const b = randomScenario(ours, seed)
    const i = firstDifference(a, b)
    if (i >= 0) {
      const context = a.slice(Math.max(0, i - 5), i).map((l) => '    ' + l.slice(0, 300)).join('\n')
      assert.fail(`seed ${seed} (rerun: DIFF_SEED=${seed} DIFF_SCENARIOS=1): first difference at event ${i}\n${context}\n` +
        `  reference: ${a[i]}\n  ours:      ${b[i]}`)
    }
  }
})
