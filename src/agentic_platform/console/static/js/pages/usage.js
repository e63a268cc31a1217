// Requests, tokens and spend by day, model or principal, and spend against the budgets of
// the caller's plans. Members see their own usage; admins everyone's.

import { api } from "../api.js";
import { barChart } from "../charts.js";
import { field, h, table, usd } from "../dom.js";

const MEASURES = {
  requests: { title: "Requests", value: (t) => t.requests, format: (v) => String(Math.round(v)) },
  tokens: { title: "Tokens", value: (t) => t.input_tokens + t.output_tokens, format: (v) => String(Math.round(v)) },
  spend: { title: "Spend (USD)", value: (t) => t.cost_usd, format: (v) => `$${v.toFixed(4)}` },
};

export async function usagePage(view, context) {
  const groupBy = h("select", {}, ["day", "model", "principal"].map((g) => h("option", { value: g, text: g })));
  const measure = h("select", {}, Object.entries(MEASURES).map(([k, m]) => h("option", { value: k, text: m.title })));
  const days = h("select", {}, [7, 30, 90].map((d) => h("option", { value: d, text: `last ${d} days` })));
  const refresh = h("button", { type: "button", class: "secondary", text: "Refresh" });
  const out = h("div", { "aria-live": "polite" });
  view.append(h("div", { class: "row" }, field("Group by", groupBy), field("Show", measure), field("Period", days), refresh), out);
  const draw = () => drawUsage(out, context, groupBy.value, MEASURES[measure.value], Number(days.value));
  for (const control of [groupBy, measure, days]) control.addEventListener("change", draw);
  refresh.addEventListener("click", draw);
  await draw();
}

function budgetOf(plans, groupBy, days) {
  if (groupBy !== "day") return null;
  const daily = plans.find((p) => p.budget_usd_per_day)?.budget_usd_per_day;
  return daily || null;
}

async function drawUsage(out, context, groupBy, measure, days) {
  const start = new Date(Date.now() - days * 86400e3).toISOString();
  const [summary, today, me] = await Promise.all([
    api("GET", `/admin/v1/usage?group_by=${groupBy}&start=${encodeURIComponent(start)}`),
    api("GET", `/admin/v1/usage?group_by=day&start=${encodeURIComponent(new Date(new Date().toDateString()).toISOString())}`),
    api("GET", "/admin/v1/me"),
  ]);
  const points = summary.totals.map((t) => ({ label: t.group, value: measure.value(t) }));
  const budget = measure.title.startsWith("Spend") ? budgetOf(me.plans, groupBy, days) : null;
  const spentToday = today.totals.reduce((sum, t) => sum + t.cost_usd, 0);
  const monthly = me.plans.find((p) => p.budget_usd_per_month)?.budget_usd_per_month;
  const daily = me.plans.find((p) => p.budget_usd_per_day)?.budget_usd_per_day;
  const requests = summary.totals.reduce((sum, t) => sum + t.requests, 0);
  out.replaceChildren(...[
    h("p", { "data-total-requests": requests, text: `${requests} requests in the period${context.isAdmin ? " (everyone's)" : " (yours)"}.` }),
    points.length ? barChart(`${measure.title} by ${groupBy}`, points, measure.format, budget) : h("p", { class: "muted", text: "No usage in this period." }),
    h("h2", { text: "Spend against budget" }),
    h("p", { text: `Today: ${usd(spentToday)} of ${daily ? usd(daily) : "no daily budget"}${monthly ? `; monthly budget ${usd(monthly)}` : ""}.` }),
    daily ? h("progress", { max: daily, value: Math.min(spentToday, daily), "aria-label": "Today's spend against the daily budget" }) : null,
    table([groupBy, "Requests", "Errors", "Input tokens", "Output tokens", "Spend"],
      summary.totals.map((t) => [t.group, String(t.requests), String(t.errors), String(t.input_tokens), String(t.output_tokens), usd(t.cost_usd)])),
  ].filter(Boolean));
}
