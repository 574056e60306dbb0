// One interop scenario against a MOQ Lite server, driven by the reference client.
// Usage: node scenario.mjs <scenario> <url> [args…]; prints one "RESULT <json>" line and exits 0 on success.
import "./shims.mjs";
import * as Moq from "@moq/net";

const [scenario, url, ...rest] = process.argv.slice(2);
const finish = (result, code = 0) => {
	console.log("RESULT " + JSON.stringify(result));
	process.exit(code);
};
setTimeout(() => finish({ error: "timeout" }, 2), 20000);
process.on("unhandledRejection", (e) => finish({ error: String(e) }, 3));

const connect = (target) => Moq.Connection.connect(new URL(target), { websocket: { delay: 0 } });

async function readText(track) {
	const group = await track.recvGroup();
	if (!group) return undefined;
	return await group.readString();
}

function publishCounter(connection, path, trackName, prefix) {
	const broadcast = new Moq.Broadcast.Producer();
	const track = broadcast.createTrack(trackName, { timescale: Moq.Time.Timescale(1000), priority: 1, latencyMax: 3000 });
	connection.publish(Moq.Path.from(path), broadcast);
	let n = 0;
	setInterval(() => {
		const group = track.appendGroup();
		group.writeString(`${prefix}-${n++}`);
		group.close();
	}, 100);
}

const scenarios = {
	// Our DI clock broadcast → a Node subscriber.
	async clock() {
		const connection = await connect(url);
		const text = await readText(connection.consume(Moq.Path.from("clock")).subscribe("seconds", { priority: 0 }));
		return { version: connection.version, transport: connection.transport, text };
	},
	// Node publishes → our relay → Node subscribes, discovering the broadcast by prefix first.
	async relay() {
		const publisher = await connect(new URL("room1", url).href);
		publishCounter(publisher, "alice", "chat", "hello");
		const subscriber = await connect(url);
		const announced = subscriber.announced(Moq.Path.from("room1"));
		const seen = [];
		for (let entry; (entry = await announced.next()); ) {
			seen.push(String(entry.path));
			if (String(entry.path).endsWith("alice")) break;
		}
		const text = await readText(subscriber.consume(Moq.Path.from("room1/alice")).subscribe("chat", { priority: 0 }));
		return { version: subscriber.version, announced: seen, text };
	},
	// Node publishes and stays: the test reads the broadcast through the server's origin service.
	async publish() {
		const connection = await connect(url);
		publishCounter(connection, rest[0], "data", "node");
		console.log("PUBLISHING");
		await new Promise(() => {});
	},
	// A subscription the token does not cover must fail, while a covered one works.
	async scoped() {
		const connection = await connect(url);
		const allowed = await readText(connection.consume(Moq.Path.from(rest[0])).subscribe("seconds", { priority: 0 }));
		let denied;
		try {
			denied = (await readText(connection.consume(Moq.Path.from(rest[1])).subscribe("seconds", { priority: 0 }))) ?? "ended";
		} catch (e) {
			denied = "error: " + String(e);
		}
		return { allowed, denied };
	},
};

const run = scenarios[scenario];
if (!run) finish({ error: `unknown scenario ${scenario}` }, 4);
finish(await run());
