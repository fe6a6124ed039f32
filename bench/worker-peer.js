'use strict'
// The worker side of bench/worker.js: serves the contestant named in workerData.
const { parentPort, workerData } = require('node:worker_threads')
const peer = require('./worker-peers').find((p) => p.name === workerData.name)
Promise.resolve(peer.serve(parentPort)).then(() => parentPort.postMessage('ready'))
