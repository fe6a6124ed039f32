'use strict'
// Waiting in tests: every wait has a limit, and says what it waited for.

// Rejects when |promise| has not settled within |ms|, naming |what|.
function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

// A promise and the function that settles it, for callbacks.
function deferred () {
  let resolve
  const promise = new Promise((res) => { resolve = res })
  return { promise, resolve }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const tick = () => new Promise((resolve) => setImmediate(resolve))

// Resolves once |condition()| is true, checked every turn; rejects after |ms|.
async function until (condition, ms, what) {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`)
    await tick()
  }
}

module.exports = { withTimeout, deferred, sleep, tick, until }
