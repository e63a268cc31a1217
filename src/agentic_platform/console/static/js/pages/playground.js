// Try an agent, a workflow or a model: streamed answers, tool calls and workflow steps as
// they happen, tokens and cost per turn, sessions to resume.

import { api, stream } from "../api.js";
import { field, h, say, usd, when } from "../dom.js";

export async function playgroundPage(view) {
  const [agents, models] = await Promise.all([
    api("GET", "/agents/v1").catch(() => ({ data: [] })),
    api("GET", "/llm/v1/models").catch(() => ({ data: [] })),
  ]);
  const pick = h("select", {},
    group("Agents", agents.data.filter((a) => a.kind !== "workflow"), (a) => `agent:${a.name}`, (a) => a.name),
    group("Workflows", agents.data.filter((a) => a.kind === "workflow"), (a) => `agent:${a.name}`, (a) => a.name),
    group("Models", models.data.filter((m) => !m.id.startsWith("agent:")), (m) => `model:${m.id}`, (m) => m.id));
  const chat = h("div", { class: "chat", role: "log", "aria-label": "Conversation", "aria-live": "polite" });
  const input = h("textarea", { rows: 2, placeholder: "Ask something; Enter sends, Shift+Enter adds a line" });
  const send = h("button", { type: "submit", text: "Send" });
  const form = h("form", { class: "row", "aria-label": "Send a message" }, field("Message", input), send);
  const sessions = h("div", { "aria-live": "polite" });
  const maxTokens = h("input", { type: "number", min: "1", max: "100000", step: "1", placeholder: "model default" });
  const state = { sessionId: null, history: [], maxTokens };
  const fresh = h("button", { type: "button", class: "secondary", text: "New conversation",
    onclick: () => { state.sessionId = null; state.history = []; chat.replaceChildren(); } });

  view.append(h("div", { class: "layout" },
    h("div", {}, h("div", { class: "row" }, field("Agent, workflow or model", pick), field("Max tokens (models)", maxTokens), fresh), chat, form),
    h("aside", { "aria-labelledby": "sessions-title" }, h("h2", { id: "sessions-title", text: "Sessions" }), sessions)));

  const refreshSessions = () => listSessions(pick.value, sessions, state, chat);
  pick.addEventListener("change", () => { fresh.click(); refreshSessions(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send.disabled = true;
    try {
      await turn(pick.value, text, chat, state);
      refreshSessions();
    } catch (error) {
      chat.append(h("p", { class: "error", role: "alert", text: error.message }));
    } finally {
      send.disabled = false;
      input.focus();
    }
  });
  refreshSessions();
}

function group(label, items, value, text) {
  return items.length ? h("optgroup", { label }, items.map((i) => h("option", { value: value(i), text: text(i) }))) : null;
}

function bubble(chat, role, text) {
  const body = h("div", { class: "text", text });
  const node = h("div", { class: `turn ${role}` }, h("span", { class: "muted", text: role === "user" ? "You: " : "" }), body);
  chat.append(node);
  chat.scrollTop = chat.scrollHeight;
  return { node, body };
}

async function turn(choice, text, chat, state) {
  const [kind, name] = [choice.slice(0, choice.indexOf(":")), choice.slice(choice.indexOf(":") + 1)];
  bubble(chat, "user", text);
  const answer = bubble(chat, "assistant", "");
  answer.node.setAttribute("aria-busy", "true");
  try {
    if (kind === "agent") await agentTurn(name, text, answer, state);
    else await modelTurn(name, text, answer, state);
  } finally {
    answer.node.removeAttribute("aria-busy");
  }
}

async function agentTurn(agent, text, answer, state) {
  const events = h("div", { class: "events" });
  answer.node.prepend(events);
  const body = { message: text };
  if (state.sessionId) body.session_id = state.sessionId;
  await stream(`/agents/v1/${encodeURIComponent(agent)}/stream`, body, (event) => {
    if (event.type === "run_started") state.sessionId = event.session_id;
    else if (event.type === "text_delta") answer.body.textContent += event.text;
    else if (event.type === "tool_call_started") events.append(h("div", { class: "event", text: `tool ${event.name}(${event.arguments})` }));
    else if (event.type === "tool_call_finished") events.append(h("div", { class: `event${event.is_error ? " error" : ""}`, text: `${event.name} → ${event.result} (${event.duration_ms.toFixed(0)} ms)` }));
    else if (event.type === "step_started") events.append(h("div", { class: "event", text: `step ${event.name} started` }));
    else if (event.type === "step_finished") events.append(h("div", { class: "event", text: `step ${event.name} finished in ${event.duration_ms.toFixed(0)} ms, ${event.usage.total_tokens} tokens` }));
    else if (event.type === "run_finished") {
      if (!answer.body.textContent) answer.body.textContent = event.output;
      answer.node.append(h("div", { class: "meta" },
        `${event.usage.prompt_tokens} in + ${event.usage.completion_tokens} out tokens · ${usd(event.cost_usd)} · ${event.duration_ms.toFixed(0)} ms · `,
        h("a", { href: `#/runs/${encodeURIComponent(event.run_id)}`, text: "open the run" })));
    } else if (event.type === "error") answer.node.append(h("p", { class: "error", role: "alert", text: event.message }));
  });
}

async function modelTurn(model, text, answer, state) {
  state.history.push({ role: "user", content: text });
  let usage = null;
  const started = performance.now();
  const request = { model, messages: state.history, stream: true, stream_options: { include_usage: true } };
  if (state.maxTokens.value) request.max_tokens = Number(state.maxTokens.value);
  await stream("/llm/v1/chat/completions", request, (chunk) => {
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta) answer.body.textContent += delta;
    if (chunk.usage) usage = chunk.usage;
  });
  state.history.push({ role: "assistant", content: answer.body.textContent });
  const took = `${(performance.now() - started).toFixed(0)} ms`;
  answer.node.append(h("div", { class: "meta", text: usage
    ? `${usage.prompt_tokens} in + ${usage.completion_tokens} out tokens · ${usd(usage.cost ?? 0)} · ${took}`
    : took }));
}

async function listSessions(choice, into, state, chat) {
  if (!choice.startsWith("agent:")) {
    into.replaceChildren(h("p", { class: "muted", text: "Model chats are not kept as sessions." }));
    return;
  }
  const agent = choice.slice(6);
  let found;
  try {
    found = await api("GET", `/memory/v1/sessions?agent_id=${encodeURIComponent(agent)}&limit=20`);
  } catch (error) {
    into.replaceChildren(h("p", { class: "muted", text: error.message }));
    return;
  }
  if (!found.data.length) {
    into.replaceChildren(h("p", { class: "muted", text: "No sessions yet." }));
    return;
  }
  into.replaceChildren(h("ul", {}, found.data.map((session) => h("li", {},
    h("button", { type: "button", class: "secondary", text: `Resume ${when(session.created_at)}`,
      "aria-label": `Resume the session of ${when(session.created_at)}`,
      onclick: () => resume(session.id, state, chat) })))));
}

async function resume(sessionId, state, chat) {
  const messages = await api("GET", `/memory/v1/sessions/${encodeURIComponent(sessionId)}/messages?limit=200`);
  state.sessionId = sessionId;
  chat.replaceChildren();
  for (const message of messages.data) {
    const said = message.role === "user" || (message.role === "assistant" && message.content.trim());
    if (said) bubble(chat, message.role, message.content);
  }
  say("Session resumed: your next message continues it.");
}
