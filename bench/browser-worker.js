'use strict'
// Worker RPC in a browser: a page of Debian's Chromium (headless, through
// playwright-core, as the browser tests run it) and one dedicated module
// worker per contestant, echo(x) calls at 64 and 1 in flight. The
// contestants are in ./browser/peers.mjs, the page in ./browser/. Not part
// of `npm run bench`: `npm run bench:browser` (installs chromium when
// missing), `--quick` for a short run.
const { createHarness } = require('../test/browser/harness')
const { median, report } = require('./lib')
const { calls } = require('./rpc')

async function main ({ quick = false } = {}) {
  const h = await createHarness()
  try {
    // the page runs the case of bench/rpc.js, the same text as in Node
    const result = await h.runPage(`/bench/browser/worker.html${quick ? '?quick' : ''}`, { timeout: 600000, expose: { benchCase: () => calls } })
    const version = h.browser.version()
    for (const { inFlight, rates } of result.cases) {
      const byName = {}
      for (const [name, xs] of Object.entries(rates)) byName[name] = { rates: xs, median: median(xs) }
      report(`Chromium ${version} (${result.cpus} CPUs), page <-> module Worker RPC: echo calls, ${inFlight} in flight`, 'calls', byName, Object.keys(rates)[0])
    }
  } finally {
    await h.close()
  }
}

module.exports = main
if (require.main === module) main({ quick: process.argv.includes('--quick') }).catch((err) => { console.error(err); process.exit(1) })
