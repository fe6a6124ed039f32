// packet-stream-wasm/codec as an ES module in Node and bundlers: the codec
// of the main entry (one core for both), its parts as named exports.
// js/gen-bundle.js writes js/codec.browser.mjs from this file, on the
// single-file js/browser.mjs, for hosts that load that.
import { codec } from './index.mjs'

export default codec
export const { encode, decode, encodePackets, decodePackets, encodePair, decodeHead, decodeBody, Framer, GOODBYE } = codec
