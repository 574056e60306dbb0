// The reference client for the browser tests: bundled by esbuild into dist/moq.js and exposed as window.Moq.
import * as Moq from "@moq/net";

window.Moq = Moq;

// A bare WebTransport session to the server's /moq, pinned by its /certificate.sha256, offering moq-lite-05: for tests
// that speak the wire by hand.
window.openRawWebTransport = async (origin) => {
	const hash = await (await fetch(new URL("/certificate.sha256", origin))).text();
	const value = new Uint8Array(hash.match(/../g).map((h) => parseInt(h, 16)));
	const url = new URL("/moq", origin);
	url.protocol = "https:";
	return new WebTransport(url, { protocols: ["moq-lite-05"], serverCertificateHashes: [{ algorithm: "sha-256", value }] });
};
window.moqReady = true;
