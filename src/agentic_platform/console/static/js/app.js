// The console's shell: sign-in, who the caller is, the pages they may use, a hash router.

import { api, ApiError, setCredential, signedIn } from "./api.js";
import { finishOidc } from "./auth.js";
import { h, say } from "./dom.js";
import { signInPage } from "./pages/signin.js";
import { playgroundPage } from "./pages/playground.js";
import { runsPage } from "./pages/runs.js";
import { keysPage } from "./pages/keys.js";
import { usagePage } from "./pages/usage.js";
import { knowledgePage } from "./pages/knowledge.js";
import { memoriesPage } from "./pages/memories.js";
import { principalsPage } from "./pages/principals.js";

const PAGES = [
  { path: "playground", title: "Playground", render: playgroundPage },
  { path: "runs", title: "Runs", render: runsPage },
  { path: "keys", title: "Keys", render: keysPage },
  { path: "usage", title: "Usage", render: usagePage },
  { path: "knowledge", title: "Knowledge bases", render: knowledgePage },
  { path: "memories", title: "Memories", render: memoriesPage },
  { path: "principals", title: "Principals and plans", render: principalsPage, admin: true },
];

const context = { me: null, isAdmin: false, config: null };

function allowed() {
  return PAGES.filter((page) => !page.admin || context.isAdmin);
}

function drawNav(current) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...allowed().map((page) => h("a", {
    href: `#/${page.path}`,
    "aria-current": page.path === current ? "page" : null,
    text: page.title,
  })));
  nav.hidden = false;
}

async function show() {
  const main = document.getElementById("main");
  if (!signedIn()) {
    document.getElementById("nav").hidden = true;
    document.getElementById("sign-out").hidden = true;
    document.getElementById("who").textContent = "";
    main.replaceChildren(signInPage(context, signIn));
    return;
  }
  const [wanted, ...rest] = (location.hash.replace(/^#\//, "") || "playground").split("/");
  context.param = rest.length ? decodeURIComponent(rest.join("/")) : null;
  const page = allowed().find((p) => p.path === wanted) || allowed()[0];
  drawNav(page.path);
  document.title = `${page.title} · Agentic Platform console`;
  const view = h("section", { "aria-labelledby": "page-title" }, h("h1", { id: "page-title", text: page.title }));
  main.replaceChildren(view);
  try {
    await page.render(view, context);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut("Your sign-in has expired: sign in again.");
    view.append(h("p", { class: "error", role: "alert", text: error.message }));
  }
}

async function whoAmI() {
  context.me = await api("GET", "/admin/v1/me");
  context.isAdmin = context.me.principal.roles.includes("admin");
  const principal = context.me.principal;
  document.getElementById("who").textContent =
    `${principal.name} (${principal.roles.join(", ")})`;
  document.getElementById("sign-out").hidden = false;
}

async function signIn(secret) {
  setCredential(secret);
  try {
    await whoAmI();
  } catch (error) {
    setCredential(null);
    throw error;
  }
  if (!location.hash) location.hash = "#/playground";
  await show();
}

function signOut(message) {
  setCredential(null);
  context.me = null;
  context.isAdmin = false;
  if (message) say(message, true);
  show();
}

async function start() {
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", show);
  context.config = await (await fetch("/console/config.json")).json();
  try {
    if (context.config.oidc.enabled) await finishOidc(context.config.oidc);
    if (signedIn()) await whoAmI();
  } catch (error) {
    setCredential(null);
    say(error.message, true);
  }
  await show();
}

start();
