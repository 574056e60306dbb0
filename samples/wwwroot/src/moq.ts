// A small typed layer over @moq/net for the sample pages: one connection per page, text and binary tracks.
import * as Moq from "@moq/net";

export { Moq };

/** Which transport a page asks for: `?transport=websocket|webtransport`, or whichever wins (the default). */
export type TransportChoice = "auto" | "websocket" | "webtransport";

export interface Connection {
	readonly raw: Moq.Connection.Established;
	/** "webtransport" or "websocket": what this connection actually uses. */
	readonly transport: string;
	readonly version: string;
}

/** The MOQ endpoint of the site that served this page. */
export function endpoint(path = ""): URL {
	return new URL(`/moq${path ? `/${path}` : ""}`, location.origin);
}

export function transportChoice(): TransportChoice {
	const value = new URLSearchParams(location.search).get("transport");
	return value === "websocket" || value === "webtransport" ? value : "auto";
}

export async function connect(choice: TransportChoice = transportChoice()): Promise<Connection> {
	const props: Moq.Connection.ConnectProps = {
		websocket: { enabled: choice !== "webtransport", delay: choice === "websocket" ? 0 : undefined },
	};
	let pending: Promise<Moq.Connection.Established>;
	if (choice === "websocket") {
		// @moq/net always races WebTransport when the browser has it; hide it for the synchronous start of connect().
		const global = globalThis as { WebTransport?: unknown };
		const saved = global.WebTransport;
		global.WebTransport = undefined;
		try {
			pending = Moq.Connection.connect(endpoint(), props);
		} finally {
			global.WebTransport = saved;
		}
	} else {
		pending = Moq.Connection.connect(endpoint(), props);
	}
	const raw = await pending;
	return { raw, transport: String(raw.transport), version: raw.version };
}

/** Calls `onGroup` with each group's frames as text, newest group first come first served. */
export async function readTextGroups(
	conn: Connection,
	broadcast: string,
	track: string,
	onGroup: (frames: string[], sequence: number) => void,
): Promise<void> {
	const subscription = conn.raw.consume(Moq.Path.from(broadcast)).subscribe(track, { priority: 0 });
	for (;;) {
		const group = await subscription.recvGroup();
		if (!group) return;
		const frames: string[] = [];
		for (let text = await group.readString(); text !== undefined; text = await group.readString()) frames.push(text);
		onGroup(frames, group.sequence);
	}
}

/**
 * Publishes a broadcast at `path` with one track per key of `latencies` and returns their producers. Each track's
 * value is its latency window in milliseconds: how long its publisher keeps a finished group for late subscribers.
 */
export function publishTracks(conn: Connection, path: string, latencies: Record<string, number>): Map<string, Moq.Track.Producer> {
	const broadcast = new Moq.Broadcast.Producer();
	const tracks = new Map<string, Moq.Track.Producer>();
	for (const [name, latencyMax] of Object.entries(latencies)) {
		tracks.set(name, broadcast.createTrack(name, { timescale: Moq.Time.Timescale(1000), priority: 1, latencyMax }));
	}
	conn.raw.publish(Moq.Path.from(path), broadcast);
	return tracks;
}

/** Reports announcements below `prefix` (paths relative to it) until the connection ends. */
export async function watchAnnouncements(conn: Connection, prefix: string, onChange: (path: string, active: boolean) => void): Promise<void> {
	const announced = conn.raw.announced(Moq.Path.from(prefix));
	for (let entry = await announced.next(); entry; entry = await announced.next()) {
		onChange(String(entry.path), entry.active);
	}
}
