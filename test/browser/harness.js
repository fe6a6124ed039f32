'use strict'
// Real-browser tests: a static HTTP server over the repository root and
// Debian's chromium driven by playwright-core. One harness (one server, one
// browser) per test file:
//
//   const { createHarness } = require('./browser/harness')
//   let h
//   before(async () => { h = await createHarness() })
//   after(() => h && h.close())
//   test('...', async () => {
//     const result = await h.runPage('esm.html')   // test/browser/pages/esm.html
//     assert.deepEqual(result, ...)
//   })
//
// A page reports with `window.__report(value)` (or `window.__result = value`)
// and fails with `window.__fail(error)`; test/browser/pages/report.mjs wraps
// both (`run(async () => value)`). Console messages (the page's and its
// workers'), page errors and failed requests are collected per page and
// printed in the error when a page fails or times out; BROWSER_LOG=1 echoes
// them to stderr as they come.
//
// Other servers on the same port: `h.route(pathname, handler)` for HTTP,
// `h.webSocketServer(pathname)` for a `ws` WebSocketServer (noServer mode,
// upgrades routed by pathname).
const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')
const PAGES = '/test/browser/pages/'
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync']

const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8'
}

// --- HTTP server ----------------------------------------------------------

function serveStatic (req, res, pathname) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end()
    return
  }
  let file = path.join(ROOT, pathname)
  if (file !== ROOT && !file.startsWith(ROOT + path.sep)) {
    res.writeHead(403).end()
    return
  }
  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory()) {
      file = path.join(file, 'index.html')
      try { st = fs.statSync(file) } catch (e) { err = e }
    }
    if (err || !st.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${pathname}\n`)
      return
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-store'
    })
    if (req.method === 'HEAD') res.end()
    else fs.createReadStream(file).pipe(res)
  })
}

// Starts the server on 127.0.0.1, an ephemeral port. `routes`: an object
// { '/pathname': (req, res, url) => {} } tried before the files.
async function startServer ({ routes = {} } = {}) {
  const handlers = new Map(Object.entries(routes))
  const upgrades = new Map() // pathname -> WebSocketServer
  const sockets = new Set()

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1')
    let pathname
    try { pathname = decodeURIComponent(url.pathname) } catch {
      res.writeHead(400).end()
      return
    }
    const handler = handlers.get(pathname)
    if (handler) {
      Promise.resolve().then(() => handler(req, res, url)).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' })
        res.end(String(err && err.stack))
      })
      return
    }
    serveStatic(req, res, pathname)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('upgrade', (req, socket, head) => {
    const wss = upgrades.get(new URL(req.url, 'http://127.0.0.1').pathname)
    if (!wss) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address()
  const origin = `http://127.0.0.1:${port}`

  let closed = null
  return {
    server,
    port,
    origin,
    // an HTTP handler for one pathname (replaces an earlier one)
    route (pathname, handler) { handlers.set(pathname, handler) },
    // a `ws` WebSocketServer answering upgrades to `pathname`; closed with the server
    webSocketServer (pathname = '/ws', options = {}) {
      if (upgrades.has(pathname)) throw new Error(`a WebSocketServer already serves ${pathname}`)
      const { WebSocketServer } = require('ws')
      const wss = new WebSocketServer({ ...options, noServer: true })
      upgrades.set(pathname, wss)
      return wss
    },
    close () {
      if (closed) return closed
      closed = (async () => {
        for (const wss of upgrades.values()) {
          for (const ws of wss.clients) ws.terminate()
          await new Promise((resolve) => wss.close(() => resolve()))
        }
        await new Promise((resolve) => {
          server.close(() => resolve())
          for (const socket of sockets) socket.destroy()
          if (server.closeAllConnections) server.closeAllConnections()
        })
      })()
      return closed
    }
  }
}

// --- browser --------------------------------------------------------------

async function launchBrowser (options = {}) {
  const { chromium } = require('playwright-core')
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: \`bash build.sh test\` installs it (apt-get install chromium)`)
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60000, ...options })
}

function describeValue (value) {
  if (typeof value === 'string') return value
  try { return JSON.stringify(value) } catch { return String(value) }
}

function formatLog (log) {
  if (!log || log.length === 0) return '  (nothing logged)'
  return log.map((line) => '  ' + line).join('\n')
}

// --- the harness ----------------------------------------------------------

async function createHarness ({ routes, launchOptions } = {}) {
  const server = await startServer({ routes })
  let browser
  try {
    browser = await launchBrowser(launchOptions)
  } catch (err) {
    await server.close()
    throw err
  }
  const echo = !!process.env.BROWSER_LOG
  const contexts = new Set()
  // playwright-core closes the browser on SIGTERM but leaves the process
  // running (the server keeps it alive): close everything and exit
  const onSigterm = () => {
    const exit = () => process.exit(143)
    setTimeout(exit, 5000).unref()
    h.close().then(exit, exit)
  }
  process.once('SIGTERM', onSigterm)

  const h = {
    server: server.server,
    origin: server.origin,
    port: server.port,
    browser,
    route: server.route,
    webSocketServer: server.webSocketServer,

    // 'esm.html' -> the page in test/browser/pages/; '/js/x.mjs' -> from the root
    url (p) {
      if (/^[a-z]+:/i.test(p)) return p
      return server.origin + (p.startsWith('/') ? p : PAGES + p)
    },
    wsURL (pathname = '/ws') {
      return `ws://127.0.0.1:${server.port}${pathname}`
    },

    // A page in a fresh context. page.log: console messages (the page's and
    // its dedicated workers'), uncaught errors, crashes and failed requests.
    async newPage () {
      const context = await browser.newContext()
      contexts.add(context)
      const page = await context.newPage()
      const log = []
      const note = (line) => {
        log.push(line)
        if (echo) process.stderr.write(`[browser] ${line}\n`)
      }
      page.log = log
      page.on('console', (msg) => {
        const where = msg.worker() ? `worker ${msg.worker().url().replace(server.origin, '')}` : 'page'
        note(`${where} console.${msg.type()}: ${msg.text()}`)
      })
      page.on('pageerror', (err) => note(`page error: ${err.stack || err.message}`))
      page.on('crash', () => note('page crashed'))
      page.on('requestfailed', (req) => note(`request failed: ${req.url()} ${req.failure() && req.failure().errorText}`))
      page.on('response', (res) => { if (res.status() >= 400) note(`HTTP ${res.status()} ${res.url()}`) })
      page.on('worker', (worker) => {
        note(`worker started: ${worker.url().replace(server.origin, '')}`)
        worker.on('close', () => note(`worker closed: ${worker.url().replace(server.origin, '')}`))
      })
      page.closeContext = async () => {
        contexts.delete(context)
        await context.close().catch(() => {})
      }
      return page
    },

    // Opens a page and waits for its report: resolves with the value the
    // page passed to __report (or assigned to window.__result); rejects, with
    // the page's log, when the page calls __fail, throws an uncaught error
    // (unless failOnPageError is false), crashes or does not report within
    // `timeout` ms.
    //   expose: { name: fn } functions the page can call (page.exposeFunction)
    //   keepOpen: resolve with { result, page } and leave the page open (the
    //     caller closes it with page.closeContext(), or h.close() does)
    //   onPage: async (page) => {} called before navigating
    async runPage (p, { timeout = 20000, expose = {}, keepOpen = false, failOnPageError = true, onPage } = {}) {
      const url = h.url(p)
      const page = await h.newPage()
      let settle
      const outcome = new Promise((resolve, reject) => { settle = { resolve, reject } })
      const fail = (why) => {
        const err = new Error(`${p}: ${why}\npage log:\n${formatLog(page.log)}`)
        settle.reject(err)
      }
      await page.exposeFunction('__report', (value) => { settle.resolve(value) })
      await page.exposeFunction('__fail', (error) => {
        fail(`the page failed: ${error && error.stack ? error.stack : describeValue(error)}`)
      })
      // window.__result = value reports too
      await page.addInitScript(() => {
        Object.defineProperty(window, '__result', {
          configurable: true,
          set (value) { window.__report(value) }
        })
      })
      for (const [name, fn] of Object.entries(expose)) await page.exposeFunction(name, fn)
      page.on('pageerror', (err) => { if (failOnPageError) fail(`uncaught error in the page: ${err.message}`) })
      page.on('crash', () => fail('the page crashed'))
      if (onPage) await onPage(page)
      const timer = setTimeout(() => fail(`no report within ${timeout} ms`), timeout)
      outcome.catch(() => {})
      page.goto(url, { timeout }).then((response) => {
        if (!response || !response.ok()) fail(`loading ${url} answered ${response && response.status()}`)
      }, (err) => fail(`loading ${url}: ${err.message}`))
      try {
        const result = await outcome
        return keepOpen ? { result, page } : result
      } catch (err) {
        keepOpen = false
        throw err
      } finally {
        clearTimeout(timer)
        if (!keepOpen) await page.closeContext()
      }
    },

    // Closes pages, browser and server; safe to call twice and after a failure.
    async close () {
      if (h._closing) return h._closing
      process.off('SIGTERM', onSigterm)
      h._closing = (async () => {
        const errors = []
        for (const context of contexts) await context.close().catch((e) => errors.push(e))
        contexts.clear()
        await browser.close().catch((e) => errors.push(e))
        await server.close().catch((e) => errors.push(e))
        if (errors.length) throw errors[0]
      })()
      return h._closing
    }
  }
  return h
}

module.exports = { createHarness, startServer, launchBrowser, formatLog, ROOT, PAGES, CHROMIUM, CHROMIUM_ARGS }
