// The page side of test/browser/harness.js: report a result or a failure
// to the Node test, and talk to workers.
//
//   import { run, workerCall } from './report.mjs'
//   run(async () => ({ some: 'result' }))   // resolves runPage with it

export function errorInfo (err) {
  if (err && typeof err === 'object') {
    return { name: err.name, message: err.message, stack: err.stack, type: err.type }
  }
  return { message: String(err) }
}

export function report (value) { window.__report(value) }
export function fail (err) { window.__fail(errorInfo(err)) }

// Runs fn and reports what it returns, or fails with what it throws.
export async function run (fn) {
  try {
    report(await fn())
  } catch (err) {
    fail(err)
  }
}

// Posts `message` to a worker and resolves with the data of its first
// reply; rejects when the worker fails to load, throws, or stays silent
// for `timeout` ms.
export function workerCall (worker, message, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const done = (fn, value) => {
      clearTimeout(timer)
      worker.removeEventListener('message', onMessage)
      worker.removeEventListener('error', onError)
      worker.removeEventListener('messageerror', onError)
      fn(value)
    }
    const onMessage = (e) => done(resolve, e.data)
    const onError = (e) => {
      // a module worker that fails to load gives a bare Event
      const what = e.message ? `${e.message} (${e.filename}:${e.lineno})` : `${e.type} event (the worker failed to load or to deserialize)`
      done(reject, new Error(`worker: ${what}`))
    }
    const timer = setTimeout(() => done(reject, new Error(`worker: no reply within ${timeout} ms`)), timeout)
    worker.addEventListener('message', onMessage)
    worker.addEventListener('error', onError)
    worker.addEventListener('messageerror', onError)
    worker.postMessage(message)
  })
}
