'use strict'
// The examples run and say what they should.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, execFile, spawn } = require('node:child_process')
const { once } = require('node:events')
const path = require('node:path')
const readline = require('node:readline')
const { promisify } = require('node:util')

const execFileP = promisify(execFile)
const EXAMPLES = path.join(__dirname, '..', 'examples')

test('examples/basic.js: the seed README example works', () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'examples', 'basic.js')]).toString()
  assert.match(out, /message HELLO THERE/)
  assert.match(out, /request \{ foo: 'bar' \}/)
  assert.match(out, /response \{ okay: true \}/)
  assert.match(out, /stream data open - write to stream/)
  assert.match(out, /stream ended true/)
  assert.match(out, /B closed null/)
})

test('examples/demo.js (npm run demo): requests, an error, 32 MiB streamed, over a worker and a WebSocket', async () => {
  const { stdout } = await execFileP(process.execPath, [path.join(EXAMPLES, 'demo.js')], { timeout: 90000 })
  for (const transport of ['worker_threads', 'WebSocket']) {
    assert.match(stdout, new RegExp(`^${transport}: connect`, 'm'))
    assert.match(stdout, new RegExp(`^  ${transport} +[\\d.]+k? requests/s at 64 in flight +\\d+ MB/s streamed$`, 'm'))
  }
  const twice = (re) => assert.equal((stdout.match(new RegExp(re, 'gm')) || []).length, 2, `twice: ${re}\n${stdout}`)
  twice('message from the server +-> \\{"hello":')
  twice('request add\\(2, 40\\) +-> 42$')
  twice('request <Buffer 01 02 03> +-> <Buffer 03 02 01>$')
  twice('request divide\\(1, 0\\) +-> rejected: RangeError: cannot divide 1 by zero$')
  twice('request nope\\(\\) +-> rejected: no such op: nope$')
  twice('substream: 32 MiB in 64 KiB chunks -> 512 chunks, 33554432 bytes arrived intact')
  twice('throughput: [\\d.]+k? requests/s at 64 in flight, \\d+ MB/s streamed')
  assert.match(stdout, /request whoami +-> "worker thread \d+"/)
  assert.match(stdout, /request whoami +-> "the ws server"/)
  assert.match(stdout, /closed: the goodbye ended the worker's session and the worker exited \(code 0\)/)
  assert.match(stdout, /closed: the goodbye ended the server's session, the socket closed \(1000\)/)
})

test('examples/web/server.js (npm run serve-example): PORT=0 picks a port, prints the URL, serves the page and the bundle', async () => {
  const child = spawn(process.execPath, [path.join(EXAMPLES, 'web', 'server.js')], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  try {
    const [line] = await Promise.race([
      once(readline.createInterface({ input: child.stdout }), 'line'),
      once(child, 'exit').then(([code]) => { throw new Error(`the server exited (${code})`) })
    ])
    const url = (line.match(/http:\/\/127\.0\.0\.1:\d+\/examples\/web\//) || [])[0]
    assert.ok(url, `a URL in: ${line}`)
    const page = await fetch(url)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<script type="module" src=".\/main.js">/)
    const bundle = await fetch(new URL('/js/browser.mjs', url))
    assert.equal(bundle.status, 200)
    assert.match(bundle.headers.get('content-type'), /^text\/javascript/)
    assert.equal((await fetch(new URL('/.git/config', url))).status, 403)
  } finally {
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
})

test('examples/web: in Chromium the counters go up over the Worker and the WebSocket', async () => {
  const { createHarness, formatLog } = require('./browser/harness')
  const { start } = require('../examples/web/server')
  const server = await start({ port: 0 })
  let h
  try {
    h = await createHarness()
    const page = await h.newPage()
    const stats = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__stats || null)))
    const explain = async (what) => `${what}\nstats: ${JSON.stringify(await stats().catch(() => null))}\n` +
      `page log:\n${formatLog(page.log)}\nthe page's own log:\n${await page.textContent('#log').catch(() => '')}`
    await page.goto(server.url)
    // runs in the page
    const enough = () => {
      const s = window.__stats
      return !!s && ['worker', 'ws'].every((k) => s[k] && s[k].calls >= 500 && s[k].bytes >= (4 << 20))
    }
    try {
      await page.waitForFunction(enough, null, { timeout: 30000, polling: 100 })
    } catch (err) {
      throw new Error(await explain(`the counters did not reach 500 calls and 4 MiB on both transports: ${err.message}`))
    }
    const a = await stats()
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const b = await stats()
    for (const k of ['worker', 'ws']) {
      assert.equal(b[k].state, 'open', await explain(`${k} state`))
      assert.equal(b[k].errors, 0, await explain(`${k} errors`))
      assert.ok(b[k].calls > a[k].calls, await explain(`${k}: calls went up`))
      assert.ok(b[k].bytes > a[k].bytes, await explain(`${k}: bytes went up`))
      assert.ok(b[k].callsPerSec > 0 && b[k].bytesPerSec > 0, await explain(`${k}: rates`))
    }
    // what the page shows
    const log = await page.textContent('#log')
    assert.match(log, /Worker: whoami -> "a module Worker"/)
    assert.match(log, /WebSocket: whoami -> "the Node server"/)
    assert.match(log, /Worker: divide\(1, 0\) -> rejected: RangeError/)
    assert.match(log, /WebSocket: divide\(1, 0\) -> rejected: RangeError/)
    for (const k of ['worker', 'ws']) {
      assert.match(await page.textContent(`#${k} .calls`), /^[1-9][\d,]*$/)
      assert.match(await page.textContent(`#${k} .bytes`), /^[1-9][\d.]* MiB$/)
      assert.equal(await page.textContent(`#${k} .state`), 'open')
    }
  } finally {
    if (h) await h.close()
    await server.close()
  }
})
