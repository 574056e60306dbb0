// Camera: publishes `live/<name>` with a `catalog` track (JSON codec description), a `video` track (VP8 via
// WebCodecs; every key frame starts a new group, so a viewer can join at any group) and an `audio` track (Opus; a
// group per second of audio).
import { connect, Moq, publishTracks } from "../moq";
import { chrome, element, showConnection, showError } from "../ui";

chrome("Camera");
const name = new URLSearchParams(location.search).get("name") ?? `cam-${Math.random().toString(36).slice(2, 7)}`;
element("name").textContent = `live/${name}`;
const width = 640;
const height = 480;
const codec = "vp8";

try {
	const conn = await connect();
	showConnection(conn);
	const media = await navigator.mediaDevices.getUserMedia({ video: { width, height, frameRate: 30 }, audio: true });
	element<HTMLVideoElement>("preview").srcObject = media;
	const microphone = media.getAudioTracks()[0];
	const settings = microphone?.getSettings();
	const audioConfig = { codec: "opus", sampleRate: settings?.sampleRate ?? 48000, numberOfChannels: settings?.channelCount ?? 1 };
	// The catalog is one group written once. @moq/net evicts a finished group older than its track's latency window,
	// so with the media's 2 s a viewer arriving later would never get it: keep it for as long as the page may live.
	const tracks = publishTracks(conn, `live/${name}`, { catalog: 24 * 60 * 60 * 1000, video: 2000, audio: 2000 });
	const catalog = tracks.get("catalog")!.appendGroup();
	catalog.writeJson({ video: { codec, width, height }, audio: microphone ? audioConfig : undefined });
	catalog.close();
	if (microphone) void publishAudio(microphone, tracks.get("audio")!, audioConfig);

	const video = tracks.get("video")!;
	let group: Moq.Group.Producer | undefined;
	let sent = 0;
	const encoder = new VideoEncoder({
		output: (chunk) => {
			if (chunk.type === "key") {
				group?.close();
				group = video.appendGroup();
			}
			if (!group) return;
			const payload = new Uint8Array(chunk.byteLength);
			chunk.copyTo(payload);
			group.writeFrame({ payload, timestamp: Moq.Time.Timestamp.fromMicros(chunk.timestamp) });
			element("sent").textContent = String(++sent);
		},
		error: (e) => showError(e),
	});
	encoder.configure({ codec, width, height, bitrate: 1_000_000, framerate: 30, latencyMode: "realtime" });

	const processor = new MediaStreamTrackProcessor({ track: media.getVideoTracks()[0] });
	const reader = processor.readable.getReader();
	for (let n = 0; ; n++) {
		const { value: frame, done } = await reader.read();
		if (done) break;
		if (encoder.encodeQueueSize < 4) encoder.encode(frame, { keyFrame: n % 30 === 0 });
		frame.close();
	}
} catch (e) {
	showError(e);
}

async function publishAudio(microphone: MediaStreamTrack, track: Moq.Track.Producer, config: AudioEncoderConfig): Promise<void> {
	let group: Moq.Group.Producer | undefined;
	let groupStart = -Infinity;
	let sent = 0;
	const encoder = new AudioEncoder({
		output: (chunk) => {
			if (chunk.timestamp - groupStart >= 1_000_000) {
				group?.close();
				group = track.appendGroup();
				groupStart = chunk.timestamp;
			}
			const payload = new Uint8Array(chunk.byteLength);
			chunk.copyTo(payload);
			group!.writeFrame({ payload, timestamp: Moq.Time.Timestamp.fromMicros(chunk.timestamp) });
			element("audio").textContent = String(++sent);
		},
		error: (e) => showError(e),
	});
	encoder.configure(config);
	const reader = new MediaStreamTrackProcessor({ track: microphone }).readable.getReader();
	for (;;) {
		const { value: data, done } = await reader.read();
		if (done) break;
		encoder.encode(data);
		data.close();
	}
}
