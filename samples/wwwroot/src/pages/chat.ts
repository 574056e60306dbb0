// Chat: every tab publishes `chat/<name>` (track `messages`) and discovers the others by announcement.
// Each message is a new group that repeats the sender's last 20 messages, so a late joiner sees recent history.
import { connect, publishTracks, readTextGroups, watchAnnouncements } from "../moq";
import { chrome, element, showConnection, showError } from "../ui";

interface Message {
	from: string;
	text: string;
	at: number;
}

chrome("Chat");
const name = new URLSearchParams(location.search).get("name") ?? `guest-${Math.random().toString(36).slice(2, 7)}`;
element("me").textContent = name;
const seen = new Map<string, Message>();

function render(): void {
	const list = element("messages");
	list.replaceChildren(
		...[...seen.values()]
			.sort((a, b) => a.at - b.at)
			.map((m) => {
				const row = document.createElement("li");
				row.className = m.from === name ? "mine" : "";
				row.innerHTML = `<b></b> <span></span>`;
				row.querySelector("b")!.textContent = m.from;
				row.querySelector("span")!.textContent = m.text;
				return row;
			}),
	);
	list.scrollTop = list.scrollHeight;
}

function receive(frames: string[]): void {
	for (const frame of frames) {
		const message = JSON.parse(frame) as Message;
		seen.set(`${message.from}@${message.at}`, message);
	}
	render();
}

try {
	const conn = await connect();
	showConnection(conn);
	const track = publishTracks(conn, `chat/${name}`, { messages: 60_000 }).get("messages")!;
	const history: string[] = [];
	element<HTMLFormElement>("composer").addEventListener("submit", (event) => {
		event.preventDefault();
		const input = element<HTMLInputElement>("text");
		if (!input.value.trim()) return;
		history.push(JSON.stringify({ from: name, text: input.value, at: Date.now() } satisfies Message));
		if (history.length > 20) history.shift();
		const group = track.appendGroup();
		for (const frame of history) group.writeString(frame);
		group.close();
		receive(history.slice(-1));
		input.value = "";
	});
	const following = new Set<string>();
	await watchAnnouncements(conn, "chat", (path, active) => {
		if (!active || path === name || following.has(path)) return;
		following.add(path);
		element("people").textContent = [...following].join(", ");
		void readTextGroups(conn, `chat/${path}`, "messages", receive).finally(() => following.delete(path));
	});
} catch (e) {
	showError(e);
}
