// Home: only the shared chrome.
import { chrome } from "../ui";

chrome("Home");
document.getElementById("status")!.textContent = "pick a page";
