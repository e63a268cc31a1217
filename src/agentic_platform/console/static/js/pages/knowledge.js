// Knowledge bases: create one, upload files with a progress bar, run a test query and see
// the chunks and their scores.

import { api, upload } from "../api.js";
import { field, h, say, table, when } from "../dom.js";

const TYPES = { md: "text/markdown", markdown: "text/markdown", html: "text/html", htm: "text/html", pdf: "application/pdf" };

export async function knowledgePage(view) {
  const list = h("div", {});
  const detail = h("div", {});
  view.append(createForm(() => draw(list, detail)), h("h2", { text: "Knowledge bases" }), list, detail);
  await draw(list, detail);
}

function createForm(refresh) {
  const name = h("input", { required: true, pattern: "[a-z0-9][a-z0-9_\\-]*", placeholder: "lowercase, digits, - and _" });
  const description = h("input", {});
  const form = h("form", { class: "row panel", "aria-label": "Create a knowledge base" },
    field("Name", name), field("Description", description), h("button", { type: "submit", text: "Create knowledge base" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/retrieval/v1/knowledge-bases", { name: name.value.trim(), description: description.value });
      say(`Created ${name.value}.`);
      form.reset();
      await refresh();
    } catch (error) { say(error.message, true); }
  });
  return form;
}

async function draw(list, detail) {
  const bases = await api("GET", "/retrieval/v1/knowledge-bases");
  list.replaceChildren(bases.data.length ? table(
    ["Name", "Documents", "Chunks", "Embedding model", "Updated", ""],
    bases.data.map((kb) => [kb.name, String(kb.document_count), String(kb.chunk_count), kb.embedding_model, when(kb.updated_at),
      h("button", { type: "button", class: "secondary", text: "Open", "aria-label": `Open ${kb.name}`, onclick: () => open(kb, detail, () => draw(list, detail)) })]),
  ) : h("p", { class: "muted", text: "No knowledge bases yet." }));
}

function open(kb, detail, refresh) {
  const file = h("input", { type: "file", accept: ".txt,.md,.markdown,.html,.htm,.pdf,text/*,application/pdf" });
  const bar = h("progress", { max: 100, value: 0, "aria-label": "Upload progress" });
  const upForm = h("form", { class: "row", "aria-label": "Upload a document" }, field("File", file), h("button", { type: "submit", text: "Upload" }), bar);
  const query = h("input", { required: true });
  const results = h("div", { "aria-live": "polite" });
  const askForm = h("form", { class: "row", "aria-label": "Test a query" }, field("Query", query), h("button", { type: "submit", text: "Search" }));
  detail.replaceChildren(h("div", { class: "panel" }, h("h2", { text: `${kb.name}` }), upForm, askForm, results));
  upForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return say("Choose a file first.", true);
    try {
      const answer = await upload(`/retrieval/v1/knowledge-bases/${encodeURIComponent(kb.name)}/documents`,
        { documents: [await document(chosen)] }, (sent, total) => { bar.value = Math.round((100 * sent) / total); });
      bar.value = 100;
      say(`${chosen.name}: ${answer.data[0].status}, ${answer.data[0].chunk_count} chunks.`);
      await refresh();
    } catch (error) { say(error.message, true); }
  });
  askForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const found = await api("POST", `/retrieval/v1/knowledge-bases/${encodeURIComponent(kb.name)}/retrieve`, { query: query.value, top_k: 5 });
      results.replaceChildren(found.data.length ? table(["Score", "Document", "Chunk"],
        found.data.map((chunk) => [chunk.score.toFixed(4), chunk.document_id || chunk.title || "", chunk.text])) : h("p", { class: "muted", text: "Nothing found." }));
    } catch (error) { say(error.message, true); }
  });
}

async function document(file) {
  const extension = file.name.split(".").pop().toLowerCase();
  const type = TYPES[extension] || "text/plain";
  const base = { title: file.name, source: file.name, content_type: type };
  if (type === "application/pdf") {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { ...base, content_base64: btoa(binary) };
  }
  return { ...base, text: await file.text() };
}
