// Recent agent runs (the caller's own; an admin sees everyone's) and one run's steps.

import { api } from "../api.js";
import { h, table, usd, when } from "../dom.js";

export async function runsPage(view, context) {
  if (context.param) return runDetail(view, context.param);
  const runs = await api("GET", "/agents/v1/runs?limit=50");
  if (!runs.data.length) {
    view.append(h("p", { class: "muted", text: "No runs yet: try an agent in the playground." }));
    return;
  }
  view.append(table(
    ["Started", "Agent", "Status", "Duration", "Tokens", "Cost", "Error"],
    runs.data.map((run) => [
      h("a", { href: `#/runs/${encodeURIComponent(run.id)}`, text: when(run.started_at) }),
      run.agent, run.status, ms(run.duration_ms), String(run.usage.total_tokens), usd(run.cost_usd),
      run.error ? h("span", { class: "error", text: run.error }) : "",
    ]),
    "Newest first",
  ));
}

function ms(value) {
  return value === null || value === undefined ? "" : `${Number(value).toFixed(0)} ms`;
}

async function runDetail(view, id) {
  const run = await api("GET", `/agents/v1/runs/${encodeURIComponent(id)}`);
  view.append(...[
    h("p", {}, h("a", { href: "#/runs", text: "← all runs" })),
    h("h2", { text: `${run.agent} · ${run.status}` }),
    h("p", { class: "muted", text: `${when(run.started_at)} · ${ms(run.duration_ms)} · ${run.usage.total_tokens} tokens · ${usd(run.cost_usd)} · model ${run.model}` }),
    run.error ? h("p", { class: "error", text: `${run.error_code || "error"}: ${run.error}` }) : null,
    table(
      ["#", "Kind", "Name", "Duration", "Tokens", "Cost", "Error"],
      run.steps.map((step) => [
        String(step.index), step.kind, step.name, ms(step.duration_ms),
        String(step.usage.total_tokens), usd(step.cost_usd), step.error || "",
      ]),
      "Steps, in the order they started",
    ),
  ].filter(Boolean));
}
