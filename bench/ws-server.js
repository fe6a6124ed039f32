'use strict'
// The server of bench/ws.js: a ws@8 server on 127.0.0.1 that serves each
// connection with the contestant of ./ws-peers.js named in its path
// (/?peer=NAME). Run as a child process (it tells its port over IPC and
// stops when its parent disconnects), or in-process through start().
const { WebSocketServer } = require('ws')
const peers = require('./ws-peers')

function start () {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    wss.on('error', reject)
    wss.on('connection', (socket, req) => {
      const name = new URL(req.url, 'ws://x').searchParams.get('peer')
      const peer = peers.find((p) => p.name === name)
      if (!peer) return socket.close(1008, 'no such peer')
      Promise.resolve(peer.serve(socket)).then(() => socket.send('ready'), (err) => {
        console.error(err)
        socket.close(1011)
      })
    })
    wss.on('listening', () => resolve({
      port: wss.address().port,
      close: () => new Promise((resolve) => {
        for (const client of wss.clients) client.terminate()
        wss.close(resolve)
      })
    }))
  })
}

module.exports = start
if (require.main === module) {
  start().then((server) => {
    process.send({ port: server.port })
    process.on('disconnect', () => server.close().then(() => process.exit(0)))
  })
}
