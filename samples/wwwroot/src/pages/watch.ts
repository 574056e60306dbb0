// Watch: lists live broadcasts (announcements under `live/`) and plays one: catalog → VideoDecoder → canvas.
import { connect, type Connection, Moq, watchAnnouncements } from "../moq";
import { chrome, element, showConnection, showError } from "../ui";

interface Catalog {
	video: { codec: string; width: number; height: number };
}

chrome("Watch");
let playing: AbortController | undefined;

async function play(conn: Connection, path: string): Promise<void> {
	playing?.abort();
	const abort = new AbortController();
	playing = abort;
	element("watching").textContent = `live/${path}`;
	const broadcast = conn.raw.consume(Moq.Path.from(`live/${path}`));
	const catalogGroup = await broadcast.subscribe("catalog", { priority: 1 }).recvGroup();
	const catalog = (await catalogGroup!.readJson()) as Catalog;
	const canvas = element<HTMLCanvasElement>("screen");
	canvas.width = catalog.video.width;
	canvas.height = catalog.video.height;
	const ctx = canvas.getContext("2d")!;
	let decoded = 0;
	const decoder = new VideoDecoder({
		output: (frame) => {
			ctx.drawImage(frame, 0, 0, canvas.width, canvas.height);
			frame.close();
			canvas.dataset.frames = String(++decoded);
		},
		error: (e) => showError(e),
	});
	decoder.configure({ codec: catalog.video.codec, optimizeForLatency: true });
	const video = broadcast.subscribe("video", { priority: 2 });
	while (!abort.signal.aborted) {
		const group = await video.recvGroup();
		if (!group) break;
		let first = true;
		for (let frame = await group.readFrame(); frame; frame = await group.readFrame()) {
			decoder.decode(new EncodedVideoChunk({ type: first ? "key" : "delta", timestamp: frame.timestamp.asMicros(), data: frame.payload }));
			first = false;
		}
	}
	decoder.close();
}

try {
	const conn = await connect();
	showConnection(conn);
	const list = element("broadcasts");
	const wanted = new URLSearchParams(location.search).get("watch");
	await watchAnnouncements(conn, "live", (path, active) => {
		const id = `b-${path}`;
		document.getElementById(id)?.remove();
		if (!active) return;
		const button = document.createElement("button");
		button.id = id;
		button.textContent = path;
		button.onclick = () => void play(conn, path).catch(showError);
		list.append(button);
		if (wanted === path) button.click();
	});
} catch (e) {
	showError(e);
}
