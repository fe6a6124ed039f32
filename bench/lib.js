'use strict'
// Interleaved benchmarking: every contestant runs the same case in turn,
// round after round, in one process; each gets its own compiled copy of the
// case (so that no call site is shared and made polymorphic by the others),
// and the ratios compare medians taken in the same run.

// Compiles |source| (a function expression's text) afresh for one contestant.
function compile (source) {
  return new Function(`return (${source})`)() // eslint-disable-line no-new-func
}

function now () {
  return Number(process.hrtime.bigint()) / 1e9
}

function median (xs) {
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// Runs |body| (source text of `async? (impl, n) => ops`) for each
// contestant; returns { name: { rates: [ops/s...], median } }.
async function interleave ({ contestants, body, n, rounds = 7, warmup = 1 }) {
  const fns = contestants.map((c) => compile(body))
  const rates = contestants.map(() => [])
  for (let round = -warmup; round < rounds; round++) {
    // alternate who goes first, so that neither always runs on a warm heap
    const order = round % 2 ? contestants.map((_, i) => i).reverse() : contestants.map((_, i) => i)
    for (const i of order) {
      if (global.gc) global.gc()
      const start = now()
      const ops = await fns[i](contestants[i].impl, n)
      const rate = ops / (now() - start)
      if (round >= 0) rates[i].push(rate)
    }
  }
  const out = {}
  contestants.forEach((c, i) => { out[c.name] = { rates: rates[i], median: median(rates[i]) } })
  return out
}

// How far the rounds of one contestant spread around their median: half
// the range between the slowest and the fastest, in percent of the median.
function spread (r) {
  if (r.rates.length < 2) return ''
  const lo = Math.min(...r.rates)
  const hi = Math.max(...r.rates)
  return `  ±${((hi - lo) / 2 / r.median * 100).toFixed(0)}%`
}

function fmt (rate) {
  if (rate >= 1e6) return (rate / 1e6).toFixed(2) + 'M'
  if (rate >= 1e3) return (rate / 1e3).toFixed(1) + 'k'
  return rate.toFixed(1)
}

// Prints one result line per contestant, with its ratio to the baseline.
function report (title, unit, result, baseline) {
  const base = result[baseline].median
  console.log(`\n${title}`)
  for (const [name, r] of Object.entries(result)) {
    const ratio = name === baseline ? '' : `  ${(r.median / base).toFixed(2)}x ${baseline}`
    console.log(`  ${name.padEnd(28)} ${fmt(r.median).padStart(9)} ${unit}/s${(spread(r).padEnd(6) + ratio).trimEnd()}`)
  }
}

module.exports = { interleave, report, median, fmt, spread, compile }
