// The page of examples/web/: one client per transport, the same code for
// both. Each makes a few calls (one answered with an error), then keeps
// IN_FLIGHT echo calls in flight and downloads over a substream, round after
// round, while the counters update. window.__stats holds the live figures.
import { connectPort, connectWebSocket } from '/js/browser.mjs'

const IN_FLIGHT = 32
const ROUND = { chunks: 16, size: 64 * 1024 } // 1 MiB per substream
const TICK_MS = 500

const stats = {}
window.__stats = stats
const logEl = document.getElementById('log')
const enabled = { calls: true, downloads: true } // the page's checkboxes
const waiting = { calls: [], downloads: [] }

function log (line) {
  logEl.textContent += line + '\n'
}

// null while `kind` is enabled, else a promise of its being enabled again
function running (kind) {
  return enabled[kind] ? null : new Promise((resolve) => waiting[kind].push(resolve))
}

for (const kind of Object.keys(enabled)) {
  const box = document.getElementById(kind)
  box.checked = enabled[kind]
  box.addEventListener('change', () => {
    enabled[kind] = box.checked
    if (box.checked) for (const resume of waiting[kind].splice(0)) resume()
  })
}

function client (name, label, connect, target) {
  const s = stats[name] = { calls: 0, callsPerSec: 0, bytes: 0, bytesPerSec: 0, errors: 0, state: 'connecting', error: null }
  const row = document.getElementById(name)
  const cell = (cls) => row.querySelector('.' + cls)
  const ps = connect(target, {
    close (err) {
      s.state = err ? 'failed' : 'closed'
      if (err) s.error = err.message
      log(`${label}: session ${err ? 'failed: ' + err.message : 'closed'}`)
    }
  })

  let lastCalls = 0
  let lastBytes = 0
  let lastTime = performance.now()
  setInterval(() => {
    const now = performance.now()
    const dt = (now - lastTime) / 1000
    s.callsPerSec = Math.round((s.calls - lastCalls) / dt)
    s.bytesPerSec = Math.round((s.bytes - lastBytes) / dt)
    lastCalls = s.calls
    lastBytes = s.bytes
    lastTime = now
    cell('rate').textContent = s.callsPerSec.toLocaleString('en')
    cell('calls').textContent = s.calls.toLocaleString('en')
    cell('bytes').textContent = (s.bytes / (1 << 20)).toFixed(1) + ' MiB'
    cell('mbps').textContent = (s.bytesPerSec / (1 << 20)).toFixed(1)
    cell('state').textContent = s.state + (s.error ? ': ' + s.error : '')
  }, TICK_MS)

  async function calls () {
    let next = 0
    async function lane () {
      while (!ps.ended) {
        await running('calls')
        const x = next++
        const y = await ps.request({ op: 'echo', args: [x] })
        if (y !== x) throw new Error(`echo(${x}) answered ${y}`)
        s.calls++
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  }

  async function downloads () {
    while (!ps.ended) {
      await running('downloads')
      const sub = ps.stream()
      const chunks = sub[Symbol.asyncIterator]() // before the first reply can come
      sub.write({ download: ROUND })
      for await (const chunk of chunks) s.bytes += chunk.byteLength
      sub.end()
    }
  }

  async function main () {
    const where = await ps.request({ op: 'whoami' })
    s.state = 'open'
    log(`${label}: whoami -> ${JSON.stringify(where)}`)
    log(`${label}: add(2, 40) -> ${await ps.request({ op: 'add', args: [2, 40] })}`)
    try {
      await ps.request({ op: 'divide', args: [1, 0] })
      throw new Error('divide(1, 0) should have failed')
    } catch (err) {
      if (err.name !== 'RangeError') throw err
      log(`${label}: divide(1, 0) -> rejected: ${err.name}: ${err.message}`)
    }
    await Promise.all([calls(), downloads()])
  }

  main().catch((err) => {
    s.errors++
    s.error = err.message
    s.state = 'failed'
    log(`${label}: ${err.stack || err}`)
    console.error(err)
  })
  return ps
}

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })
worker.addEventListener('error', (ev) => log(`worker: ${ev.message || 'failed to load'}`))
client('worker', 'Worker', connectPort, worker)

const wsURL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
client('ws', 'WebSocket', connectWebSocket, new WebSocket(wsURL))
