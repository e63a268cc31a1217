// A user's memories and sessions: browse, search, delete. Members see their own; admins
// may name any user.

import { api } from "../api.js";
import { field, h, say, table, when } from "../dom.js";

export async function memoriesPage(view, context) {
  const user = context.isAdmin ? h("input", { placeholder: "a principal id (default: you)" }) : null;
  const query = h("input", { type: "search" });
  const form = h("form", { class: "row panel", "aria-label": "Memory search" },
    user ? field("User", user) : null, field("Search memories", query), h("button", { type: "submit", text: "Search" }),
    h("button", { type: "button", class: "secondary", text: "Show all", onclick: () => { query.value = ""; draw(); } }));
  const memories = h("div", { "aria-live": "polite" });
  const sessions = h("div", {});
  view.append(form, h("h2", { text: "Memories" }), memories, h("h2", { text: "Sessions" }), sessions);
  const who = () => (user?.value.trim() ? user.value.trim() : null);
  const draw = async () => {
    try {
      await Promise.all([drawMemories(memories, who(), query.value.trim(), draw), drawSessions(sessions, who(), draw)]);
    } catch (error) { say(error.message, true); }
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); draw(); });
  await draw();
}

function forUser(userId) {
  return userId ? `&user_id=${encodeURIComponent(userId)}` : "";
}

async function drawMemories(into, userId, text, redraw) {
  const found = text
    ? await api("POST", "/memory/v1/memories/search", { query: text, top_k: 20, ...(userId ? { user_id: userId } : {}) })
    : await api("GET", `/memory/v1/memories?limit=100${forUser(userId)}`);
  if (!found.data.length) return into.replaceChildren(h("p", { class: "muted", text: "No memories." }));
  into.replaceChildren(table(
    [text ? "Score" : "Type", "Text", "Agent", "Created", ""],
    found.data.map((m) => [text ? m.score.toFixed(3) : m.type, m.text, m.agent_id || "", when(m.created_at),
      h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the memory "${m.text.slice(0, 40)}"`,
        onclick: async () => {
          if (!confirm("Delete this memory?")) return;
          await api("DELETE", `/memory/v1/memories/${encodeURIComponent(m.id)}`).catch((e) => say(e.message, true));
          await redraw();
        } })]),
  ));
}

async function drawSessions(into, userId, redraw) {
  const found = await api("GET", `/memory/v1/sessions?limit=50${forUser(userId)}`);
  if (!found.data.length) return into.replaceChildren(h("p", { class: "muted", text: "No sessions." }));
  into.replaceChildren(table(
    ["Agent", "Created", "Id", ""],
    found.data.map((s) => [s.agent_id, when(s.created_at), h("code", { text: s.id }),
      h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the ${s.agent_id} session of ${when(s.created_at)}`,
        onclick: async () => {
          if (!confirm("Delete this session and its messages?")) return;
          await api("DELETE", `/memory/v1/sessions/${encodeURIComponent(s.id)}`).catch((e) => say(e.message, true));
          await redraw();
        } })]),
  ));
}
