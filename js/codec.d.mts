// Types for packet-stream-wasm/codec as an ES module (js/codec.mjs,
// js/codec.browser.mjs): the codec of the main entry, its parts named.
import packets from './index.js'

type Codec = typeof packets.codec
declare const codec: Codec
export default codec
export declare const encode: Codec['encode']
export declare const decode: Codec['decode']
export declare const encodePackets: Codec['encodePackets']
export declare const decodePackets: Codec['decodePackets']
export declare const encodePair: Codec['encodePair']
export declare const decodeHead: Codec['decodeHead']
export declare const decodeBody: Codec['decodeBody']
export declare const Framer: Codec['Framer']
export declare const GOODBYE: Codec['GOODBYE']
