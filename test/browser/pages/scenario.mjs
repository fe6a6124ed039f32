// One packet-stream conversation between two sessions A and B wired back to
// back, recorded as a trace. Runs in the browser page, in a worker and in
// Node (test/browser.test.js runs it against packet-stream@2.0.6 too, and
// the traces must be equal).
//
//   const trace = await scenario(packets)                  // A.read = B.write
//   const trace = await scenario(reference, { bind: true }) // packet-stream needs bind

export const BYTES = [0, 1, 2, 127, 128, 253, 254, 255]
export const REPLY_BYTES = [9, 8, 7]

// A trace entry's value in a form that clones and compares the same
// everywhere: bytes listed (and whether they are the very object sent),
// stacks reduced to their kind, undefined named.
function show (value, sent) {
  if (value === undefined) return '<undefined>'
  if (value instanceof Uint8Array) {
    return { u8: Array.from(value), same: sent.includes(value) }
  }
  if (value instanceof Error) {
    return { Error: show({ name: value.name, message: value.message, stack: value.stack }, sent) }
  }
  if (Array.isArray(value)) return value.map((v) => show(v, sent))
  if (value && typeof value === 'object') {
    const out = {}
    for (const key of Object.keys(value)) {
      out[key] = key === 'stack' && typeof value[key] === 'string' ? '<stack>' : show(value[key], sent)
    }
    return out
  }
  return value
}

export async function scenario (packets, { bind = false } = {}) {
  const trace = []
  const bin = new Uint8Array(BYTES)
  const reply = new Uint8Array(REPLY_BYTES)
  const sent = [bin, reply]
  const log = (...entry) => trace.push(entry.map((v) => show(v, sent)))

  const A = packets({
    message (m) { log('A message', m) },
    request (value, cb) {
      log('A request', value)
      if (value instanceof Uint8Array) cb(null, reply)
      else if (value && value.fail) cb(new TypeError(`no such thing: ${value.fail}`))
      else cb(null, { echo: value })
    },
    stream (s) {
      log('A stream', s.id)
      s.read = (data, end) => {
        if (end) {
          log('A stream end', end)
          s.end()
        } else {
          log('A stream data', data)
          s.write(data) // an echo
        }
      }
    },
    close (err) { log('A close', err) }
  })
  const B = packets({
    message (m) { log('B message', m) },
    close (err) { log('B close', err) }
  })
  if (bind) {
    A.read = B.write.bind(B); B.read = A.write.bind(A)
  } else {
    A.read = B.write; B.read = A.write
  }

  const request = (value) => new Promise((resolve) => {
    B.request(value, (err, res) => { log('B response', err, res); resolve() })
  })

  B.message('HELLO THERE')
  B.message({ foo: ['bar', 1, null, true] })
  B.message(bin)
  A.message('and back')
  await request({ foo: 'bar' })
  await request({ fail: 'x' })
  await request(bin)

  await new Promise((resolve) => {
    const s = B.stream()
    log('B stream', s.id)
    s.read = (data, end) => {
      if (end) {
        log('B stream end', end, s.readEnd, s.writeEnd)
        resolve()
      } else {
        log('B stream data', data)
      }
    }
    s.write('one')
    s.write({ two: 2 })
    s.write(bin)
    s.end()
  })

  await new Promise((resolve) => {
    B.close((err) => { log('B close cb', err); resolve() })
  })
  log('ended', A.ended, B.ended)
  return trace
}
