// Camera: publishes `live/<name>` with a `catalog` track (JSON codec description) and a `video` track (VP8 via
// WebCodecs; every key frame starts a new group, so a viewer can join at any group).
import { connect, Moq, publishTrack } from "../moq";
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
	const media = await navigator.mediaDevices.getUserMedia({ video: { width, height, frameRate: 30 }, audio: false });
	element<HTMLVideoElement>("preview").srcObject = media;
	const tracks = publishTrack(conn, `live/${name}`, ["catalog", "video"], 2000);
	const catalog = tracks.get("catalog")!.appendGroup();
	catalog.writeJson({ video: { codec, width, height } });
	catalog.close();

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
