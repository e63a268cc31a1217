// Admins only: who may call the platform, and the plans that limit them.

import { api } from "../api.js";
import { h, table, usd, when } from "../dom.js";

export async function principalsPage(view) {
  const [principals, plans] = await Promise.all([api("GET", "/admin/v1/principals"), api("GET", "/admin/v1/plans")]);
  view.append(
    h("h2", { text: "Principals" }),
    table(["Name", "Kind", "Roles", "Team", "Plan", "Disabled", "Id", "Created"],
      principals.map((p) => [p.name, p.kind, p.roles.join(", "), p.team_id, p.plan_id || "", p.disabled ? "yes" : "no", h("code", { text: p.id }), when(p.created_at)])),
    h("h2", { text: "Plans" }),
    table(["Name", "Models", "Requests/min", "Daily budget", "Monthly budget", "Active"],
      plans.map((p) => [p.name, (p.allowed_models || []).join(", ") || "all", p.requests_per_minute ?? "—",
        p.budget_usd_per_day == null ? "—" : usd(p.budget_usd_per_day), p.budget_usd_per_month == null ? "—" : usd(p.budget_usd_per_month), p.active ? "yes" : "no"])),
  );
}
