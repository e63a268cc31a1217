// API keys: create (the secret is shown once), list, revoke, rotate, model allowlists.
// Members manage their own keys; admins may create keys for any principal.

import { api } from "../api.js";
import { field, h, say, table, when } from "../dom.js";

export async function keysPage(view, context) {
  const shown = h("div", { "aria-live": "polite" });
  const list = h("div", {});
  view.append(createForm(context, shown, () => draw(list, shown)), shown, h("h2", { text: "Your keys" }), list);
  await draw(list, shown);
}

function patterns(text) {
  const found = text.split(",").map((p) => p.trim()).filter(Boolean);
  return found.length ? found : null;
}

function createForm(context, shown, refresh) {
  const name = h("input", { required: true, maxlength: 200 });
  const models = h("input", { placeholder: "e.g. gpt-4o*, echo (all if empty)" });
  const days = h("input", { type: "number", min: "1", max: "36500", step: "1" });
  const owner = context.isAdmin ? h("input", { placeholder: "a principal id (default: you)" }) : null;
  const form = h("form", { class: "row panel", "aria-label": "Create a key" },
    field("Key name", name), field("Allowed models", models), field("Expires in days", days),
    owner ? field("Owner", owner) : null, h("button", { type: "submit", text: "Create key" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), allowed_models: patterns(models.value) };
    if (days.value) body.expires_in_days = Number(days.value);
    if (owner?.value.trim()) body.principal_id = owner.value.trim();
    try {
      showSecret(shown, await api("POST", "/admin/v1/keys", body));
      form.reset();
      await refresh();
    } catch (error) {
      say(error.message, true);
    }
  });
  return form;
}

function showSecret(into, created) {
  into.replaceChildren(h("div", { class: "panel", role: "alert" },
    h("p", { text: `The secret of "${created.name}" (shown only now; copy it):` }),
    h("p", { class: "secret", "data-secret": "", text: created.secret })));
}

async function draw(list, shown) {
  const keys = await api("GET", "/admin/v1/keys?include_revoked=true");
  const refresh = () => draw(list, shown);
  list.replaceChildren(table(
    ["Name", "Prefix", "Owner", "Allowed models", "Created", "Last used", "Status", "Actions"],
    keys.map((key) => [
      key.name || "(unnamed)", h("code", { text: key.prefix }), key.principal_id,
      allowlist(key, refresh), when(key.created_at), when(key.last_used_at),
      key.revoked_at ? `revoked ${when(key.revoked_at)}` : key.expires_at ? `expires ${when(key.expires_at)}` : "active",
      key.revoked_at ? "" : actions(key, shown, refresh),
    ]),
  ));
}

function allowlist(key, refresh) {
  const text = (key.allowed_models || []).join(", ") || "all";
  if (key.revoked_at) return text;
  return h("button", { type: "button", class: "secondary", text, "aria-label": `Change the models ${key.name} may use (now: ${text})`,
    onclick: async () => {
      const answer = prompt("Model patterns, comma-separated (empty: all)", (key.allowed_models || []).join(", "));
      if (answer === null) return;
      await api("PATCH", `/admin/v1/keys/${key.id}`, { allowed_models: patterns(answer) }).catch((e) => say(e.message, true));
      await refresh();
    } });
}

function actions(key, shown, refresh) {
  return h("span", { class: "row" },
    h("button", { type: "button", class: "secondary", text: "Rotate", "aria-label": `Rotate ${key.name}`,
      onclick: async () => {
        try { showSecret(shown, await api("POST", `/admin/v1/keys/${key.id}/rotate`, { grace_seconds: 0 })); } catch (e) { say(e.message, true); }
        await refresh();
      } }),
    h("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke ${key.name}`,
      onclick: async () => {
        if (!confirm(`Revoke "${key.name}"? Callers using it are refused at once.`)) return;
        try { await api("POST", `/admin/v1/keys/${key.id}/revoke`); say(`Revoked ${key.name}.`); } catch (e) { say(e.message, true); }
        await refresh();
      } }));
}
