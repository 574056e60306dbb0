// Page chrome shared by every sample page: navigation and the connection badge.
import type { Connection } from "./moq";

const pages: [string, string][] = [
	["/", "Home"],
	["/clock.html", "Clock"],
	["/chat.html", "Chat"],
	["/camera.html", "Camera"],
	["/watch.html", "Watch"],
	["/stats.html", "Stats"],
];

export function chrome(title: string): void {
	document.title = `${title} · MoqLite`;
	const nav = document.createElement("nav");
	nav.innerHTML = `<strong>MoqLite</strong>${pages
		.map(([href, label]) => `<a href="${href}${location.search}"${label === title ? ' aria-current="page"' : ""}>${label}</a>`)
		.join("")}<span id="status" class="badge">connecting…</span>`;
	document.body.prepend(nav);
}

export function showConnection(conn: Connection): void {
	const badge = document.getElementById("status")!;
	badge.textContent = `${conn.transport} · ${conn.version}`;
	badge.dataset.transport = conn.transport;
	badge.classList.add("ok");
}

export function showError(error: unknown): void {
	const badge = document.getElementById("status")!;
	badge.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
	badge.classList.add("error");
}

export function element<T extends HTMLElement = HTMLElement>(id: string): T {
	return document.getElementById(id) as T;
}
