'use strict'
// What the ES module bundle (js/browser.mjs) exports: the same API as the
// package's main entry.
module.exports = require('./index')
