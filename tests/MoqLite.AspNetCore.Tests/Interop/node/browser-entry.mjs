// The reference client for the browser tests: bundled by esbuild into dist/moq.js and exposed as window.Moq.
import * as Moq from "@moq/net";

window.Moq = Moq;
window.moqReady = true;
