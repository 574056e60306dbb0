// Bundles the TypeScript pages into dist/ (run by `dotnet build` of samples/WebApp).
import { build } from "esbuild";
import { readdirSync, writeFileSync } from "node:fs";

const pages = readdirSync("src/pages").filter((f) => f.endsWith(".ts")).map((f) => `src/pages/${f}`);
await build({
	entryPoints: pages,
	bundle: true,
	format: "esm",
	target: "es2022",
	minify: true,
	sourcemap: true,
	outdir: "dist",
	logLevel: "warning",
});
writeFileSync("dist/.stamp", new Date().toISOString());
