// Watch: lists live broadcasts (announcements under `live/`) and plays one: catalog → VideoDecoder → canvas, and
// AudioDecoder → Web Audio, scheduled back to back.
import { connect, type Connection, Moq, watchAnnouncements } from "../moq";
import { chrome, element, showConnection, showError } from "../ui";

interface Catalog {
	video: { codec: string; width: number; height: number };
	audio?: { codec: string; sampleRate: number; numberOfChannels: number };
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
	if (catalog.audio) void playAudio(broadcast, catalog.audio, abort.signal).catch(showError);
	const video = broadcast.subscribe("video", { priority: 2 });
	while (!abort.signal.aborted) {
		const group = await video.recvGroup();
		if (!group) break;
		let first = true;
		try {
			for (let frame = await group.readFrame(); frame; frame = await group.readFrame()) {
				decoder.decode(new EncodedVideoChunk({ type: first ? "key" : "delta", timestamp: frame.timestamp.asMicros(), data: frame.payload }));
				first = false;
			}
		} catch (e) {
			// A relay resets a group that fell too far behind; the next group starts with a key frame.
			canvas.dataset.dropped = String(Number(canvas.dataset.dropped ?? 0) + 1);
			console.warn("video group dropped", e);
		}
	}
	decoder.close();
}

async function playAudio(broadcast: Moq.Broadcast.Consumer, config: AudioDecoderConfig, stop: AbortSignal): Promise<void> {
	const context = new AudioContext({ sampleRate: config.sampleRate });
	let next = 0;
	let decoded = 0;
	const decoder = new AudioDecoder({
		output: (data) => {
			const buffer = context.createBuffer(data.numberOfChannels, data.numberOfFrames, data.sampleRate);
			for (let channel = 0; channel < data.numberOfChannels; channel++) {
				data.copyTo(buffer.getChannelData(channel), { planeIndex: channel, format: "f32-planar" });
			}
			data.close();
			const source = context.createBufferSource();
			source.buffer = buffer;
			source.connect(context.destination);
			next = Math.max(next, context.currentTime + 0.05);
			source.start(next);
			next += buffer.duration;
			element("audio").textContent = String(++decoded);
		},
		error: (e) => showError(e),
	});
	decoder.configure(config);
	const audio = broadcast.subscribe("audio", { priority: 3 });
	while (!stop.aborted) {
		const group = await audio.recvGroup();
		if (!group) break;
		try {
			for (let frame = await group.readFrame(); frame; frame = await group.readFrame()) {
				decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: frame.timestamp.asMicros(), data: frame.payload }));
			}
		} catch (e) {
			// A dropped group: carry on with the next one.
			console.warn("audio group dropped", e);
		}
	}
	decoder.close();
	await context.close();
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
