'use strict'
// The server of examples/web/ (`npm run serve-example`): static files from
// the repository root (the page and /js/browser.mjs, no bundler) and, at
// /ws, examples/web/service.mjs over connectWebSocket, one session per
// socket. Listens on 127.0.0.1, port PORT (default 8080; 0 picks one), and
// prints the page's URL.
//
//   const { start } = require('./examples/web/server')
//   const server = await start({ port: 0 })   // { url, port, close() }
const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const { WebSocketServer } = require('ws')
const { connectWebSocket } = require('../..')

const ROOT = path.resolve(__dirname, '..', '..')
const PAGE = '/examples/web/'
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm'
}

function serveFile (req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405, { Allow: 'GET, HEAD' }).end()
  let pathname
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname)
  } catch {
    return res.writeHead(400).end()
  }
  if (pathname === '/' || pathname === PAGE.slice(0, -1)) return res.writeHead(302, { Location: PAGE }).end()
  let file = path.join(ROOT, pathname)
  // the repository's files, not its dotfiles (.git) nor anything outside it
  if (!file.startsWith(ROOT + path.sep) || pathname.split('/').some((part) => part.startsWith('.'))) {
    return res.writeHead(403).end()
  }
  if (pathname.endsWith('/')) file = path.join(file, 'index.html')
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${pathname}\n`)
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-store'
    })
    if (req.method === 'HEAD') res.end()
    else fs.createReadStream(file).pipe(res)
  })
}

// Starts the server; resolves with { url, port, close () -> Promise }.
async function start ({ port = 8080, host = '127.0.0.1' } = {}) {
  const { serve } = await import('./service.mjs')
  const server = http.createServer(serveFile)
  const wss = new WebSocketServer({ server, path: '/ws' })
  wss.on('connection', (socket) => { serve(connectWebSocket, socket, 'the Node server') })
  const sockets = new Set()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const actual = server.address().port
  return {
    port: actual,
    url: `http://${host}:${actual}${PAGE}`,
    close () {
      for (const ws of wss.clients) ws.terminate()
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => wss.close(() => server.close(() => resolve())))
    }
  }
}

module.exports = { start }

if (require.main === module) {
  const port = process.env.PORT === undefined ? 8080 : Number(process.env.PORT)
  start({ port }).then((server) => {
    console.log(`packet-stream-wasm example: open ${server.url}`)
    const stop = () => server.close().then(() => process.exit(0))
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  }, (err) => {
    console.error(err.code === 'EADDRINUSE' ? `port ${port} is in use: PORT=<another> npm run serve-example` : err)
    process.exit(1)
  })
}
