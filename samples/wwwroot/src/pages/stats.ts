// Stats: the server's MoqLite meter, sampled once a second from /stats.json, as numbers and a small chart.
import { chrome, element } from "../ui";

interface Snapshot {
	sessions: number;
	subscriptions: number;
	bytesSent: number;
	bytesReceived: number;
	framesSent: number;
	groupsDropped: number;
}

chrome("Stats");
document.getElementById("status")!.textContent = "polling /stats.json";
const history: { sent: number; received: number }[] = [];
let previous: Snapshot | undefined;

function draw(): void {
	const canvas = element<HTMLCanvasElement>("chart");
	const ctx = canvas.getContext("2d")!;
	ctx.clearRect(0, 0, canvas.width, canvas.height);
	const max = Math.max(1024, ...history.flatMap((h) => [h.sent, h.received]));
	const step = canvas.width / 59;
	for (const [key, color] of [["sent", "#4f8cff"], ["received", "#2fbf71"]] as const) {
		ctx.strokeStyle = color;
		ctx.lineWidth = 2;
		ctx.beginPath();
		history.forEach((h, i) => {
			const y = canvas.height - (h[key] / max) * (canvas.height - 10) - 5;
			if (i === 0) ctx.moveTo(i * step, y);
			else ctx.lineTo(i * step, y);
		});
		ctx.stroke();
	}
}

async function sample(): Promise<void> {
	const now = (await (await fetch("/stats.json")).json()) as Snapshot;
	for (const [key, value] of Object.entries(now)) {
		const cell = document.querySelector(`[data-stat="${key}"]`);
		if (cell) cell.textContent = value.toLocaleString();
	}
	if (previous) {
		history.push({ sent: now.bytesSent - previous.bytesSent, received: now.bytesReceived - previous.bytesReceived });
		if (history.length > 60) history.shift();
		element("rate").textContent = `${(history[history.length - 1].sent / 1024).toFixed(1)} KiB/s out`;
		draw();
	}
	previous = now;
	element("chart").dataset.samples = String(history.length);
}

await sample();
setInterval(() => void sample().catch(() => {}), 1000);
