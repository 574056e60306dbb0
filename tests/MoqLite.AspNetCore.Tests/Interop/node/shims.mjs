// Node 20 lacks what @moq/net expects of a browser: a WebSocket global, Promise.withResolvers and Set.prototype.difference.
import WebSocket from "ws";

globalThis.WebSocket ??= WebSocket;

Promise.withResolvers ??= function () {
	let resolve, reject;
	const promise = new Promise((res, rej) => {
		resolve = res;
		reject = rej;
	});
	return { promise, resolve, reject };
};

Set.prototype.difference ??= function (other) {
	const result = new Set();
	for (const value of this) if (!other.has(value)) result.add(value);
	return result;
};
