// Bundles the reference client for the browser tests into dist/moq.js.
import { build } from "esbuild";

await build({ entryPoints: ["browser-entry.mjs"], bundle: true, format: "esm", outfile: "dist/moq.js", logLevel: "warning" });
