// The one way the console talks to the platform: its public HTTP APIs, with the signed-in
// caller's credential in the Authorization header. The credential lives in this tab's
// sessionStorage (gone when the tab closes), never in localStorage or in a URL.

const STORE = "agentic.console.credential";
let credential = sessionStorage.getItem(STORE);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function signedIn() {
  return credential !== null;
}

export function setCredential(secret) {
  credential = secret;
  if (secret === null) sessionStorage.removeItem(STORE);
  else sessionStorage.setItem(STORE, secret);
}

function headers(json) {
  const sent = { Authorization: `Bearer ${credential}` };
  if (json) sent["Content-Type"] = "application/json";
  return sent;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    message = body.error?.message || body.detail || message;
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, message);
}

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

/** POST ``body`` and call ``onEvent`` with each server-sent event's data as it arrives. */
export async function stream(path, body, onEvent, signal) {
  const response = await fetch(path, {
    method: "POST", headers: headers(true), body: JSON.stringify(body), signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart()).join("\n");
      if (data && data !== "[DONE]") onEvent(JSON.parse(data));
    }
  }
}

/** POST JSON with XMLHttpRequest, for its upload progress: ``onProgress(sent, total)``. */
export function upload(path, body, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    for (const [name, value] of Object.entries(headers(true))) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    request.addEventListener("load", () => {
      let answer = null;
      try { answer = JSON.parse(request.responseText); } catch { /* empty */ }
      if (request.status >= 200 && request.status < 300) resolve(answer);
      else reject(new ApiError(request.status, answer?.error?.message || `${request.status}`));
    });
    request.addEventListener("error", () => reject(new ApiError(0, "the upload failed")));
    request.send(JSON.stringify(body));
  });
}
