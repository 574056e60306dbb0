// Clock: the server's DI-handled broadcast `clock`, one group per second.
import { connect, readTextGroups } from "../moq";
import { chrome, element, showConnection, showError } from "../ui";

chrome("Clock");
try {
	const conn = await connect();
	showConnection(conn);
	const face = element("time");
	const log = element("ticks");
	let ticks = 0;
	await readTextGroups(conn, "clock", "seconds", (frames, sequence) => {
		face.textContent = frames[0] ?? "";
		ticks++;
		face.dataset.ticks = String(ticks);
		const row = document.createElement("li");
		row.textContent = `group ${sequence}: ${frames[0]}`;
		log.prepend(row);
		while (log.children.length > 8) log.lastChild!.remove();
	});
} catch (e) {
	showError(e);
}
