// Sign in with an API key (kept for this tab only), or with the OIDC provider.

import { startOidc } from "../auth.js";
import { field, h } from "../dom.js";

export function signInPage(context, signIn) {
  const key = h("input", { type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const message = h("p", { role: "alert", class: "error" });
  const form = h("form", { class: "panel", "aria-labelledby": "page-title" },
    field("API key", key),
    h("p", { class: "muted", text: "The key stays in this tab's memory and is forgotten when the tab closes." }),
    h("button", { type: "submit", text: "Sign in" }),
    message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      await signIn(key.value.trim());
    } catch (error) {
      message.textContent = error.status === 401 ? "That key is not valid (unknown, revoked or expired)." : error.message;
    }
  });
  const oidc = context.config?.oidc;
  const single = oidc?.enabled
    ? h("p", {}, h("button", { type: "button", class: "secondary", text: "Sign in with your organisation", onclick: () => startOidc(oidc).catch((e) => { message.textContent = e.message; }) }))
    : null;
  return h("section", {}, h("h1", { id: "page-title", text: "Sign in" }), form, single);
}
