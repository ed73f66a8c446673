import { randomBytes } from "node:crypto";
import { ReadableStream } from "node:stream/web";
import { Response } from "undici";
import { describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fetch as undiciFetch } from "undici";
import { caseless, classifyTargetError, MAX_BODY_BYTES, readResponse, redact, redactionForms, requestInputSchema, resolveUnderBase, safeCut } from "./http-shared";

const pieces = (secret: string, size = 24) => Array.from({ length: secret.length - size }, (_, i) => secret.slice(i, i + size));

/** As a server sends it: in chunks, so the read stops wherever the last chunk ends. */
function streamed(body: string, chunkBytes = 16 * 1024): Response {
  const bytes = Buffer.from(body);
  let at = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(at, (at += chunkBytes)));
      },
    }),
  );
}

describe("a response body over the cap", () => {
  it("never returns part of a credential the target echoed many times, wherever the cap falls", async () => {
    // A 4 KB token, echoed 400 times (an API listing its recent requests): redacting shrinks the body
    // by far more than the slack read past the cap, which used to bring a cut-off copy into view.
    const token = randomBytes(3000).toString("base64url");
    const forms = redactionForms([token]);
    for (const filler of [0, 1, 777, 2048]) {
      const body = "x".repeat(filler) + `Authorization: Bearer ${token}\n`.repeat(400);
      const result = await readResponse(streamed(body), forms);
      expect(result.truncated).toBe(true);
      expect(Buffer.byteLength(result.body)).toBeLessThanOrEqual(MAX_BODY_BYTES);
      expect(result.body).toContain("[redacted]");
      for (const piece of pieces(token)) expect(result.body.includes(piece), `filler ${filler}`).toBe(false);
    }
  });

  it("cuts before a credential that runs past the cap, and keeps a prefix of the text", () => {
    const secret = "s3cr3t-value-0123456789";
    expect(safeCut(`abc${secret}def`, 10, [secret])).toBe("abc");
    expect(safeCut(`abc${secret}def`, 100, [secret])).toBe(`abc${secret}def`);
    expect(safeCut(`abc${secret}${secret}`, 3 + secret.length + 5, [secret])).toBe(`abc${secret}`);
    // A multi-byte character cut in two is left out, not turned into U+FFFD.
    expect(safeCut("aé", 2, [])).toBe("a");
  });

  it("a body under the cap is returned whole, redacted", async () => {
    const secret = "tiny-secret-value-42";
    const result = await readResponse(new Response(`one ${secret} two`), redactionForms([secret]));
    expect(result).toMatchObject({ status: 200, body: "one [redacted] two", truncated: false });
  });
});

describe("a body that does not match its Content-Encoding", () => {
  it("is the target's fault (502 upstream_error), not an unreachable target", async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip", "content-type": "text/plain" });
      res.end("this is not gzip at all");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const response = await undiciFetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const error = await readResponse(response, []).then(() => null, (e: unknown) => e);
      const classified = classifyTargetError(error, "api.example.com");
      expect(classified?.kind).toBe("upstream_error");
      expect(classified?.message).toContain("api.example.com answered with a body that is not what its Content-Encoding says (Z_DATA_ERROR)");
    } finally {
      server.close();
    }
  });
});

describe("redaction", () => {
  it("finds a credential however common JSON encoders escape it", () => {
    const token = "tok/en+abc<d>&e'f==";
    const forms = redactionForms([token]);
    const echoes = [
      `{"authorization":"Bearer tok\\/en+abc<d>&e'f=="}`, // PHP json_encode
      `{"authorization":"Bearer tok/en+abc\\u003cd\\u003e\\u0026e'f=="}`, // Go encoding/json
      `{"authorization":"Bearer tok/en\\u002Babc\\u003Cd\\u003E\\u0026e\\u0027f=="}`, // .NET System.Text.Json
      `{"authorization":"Bearer tok\\u002fen\\u002babc\\u003cd\\u003e\\u0026e\\u0027f\\u003d\\u003d"}`, // everything escaped
    ];
    for (const echo of echoes) expect(redact(echo, forms), echo).toBe(`{"authorization":"Bearer [redacted]"}`);
    const accented = "pässwörd-1234";
    expect(redact(`{"p":"p\\u00e4ssw\\u00f6rd-1234"}`, redactionForms([accented]))).toBe(`{"p":"[redacted]"}`); // Python ensure_ascii
    // PHP's default: \/ and \u00e4 together; and an astral character as its surrogate pair.
    expect(redact(`{"p":"p\\u00e4ss\\/w\\u00f6rd"}`, redactionForms(["päss/wörd"]))).toBe(`{"p":"[redacted]"}`);
    expect(redact(`{"p":"key-\\ud83d\\udd11-1234"}`, redactionForms(["key-🔑-1234"]))).toBe(`{"p":"[redacted]"}`);
  });

  it("finds a credential in an HTML page that shows the request's headers, and in lower-case URL escapes", () => {
    const token = "tok/en+abc<d>&e'f\"g==";
    const forms = redactionForms([token]);
    const pages = [
      `<td>Bearer tok/en+abc&lt;d&gt;&amp;e&#039;f&quot;g==</td>`, // PHP htmlspecialchars (phpinfo)
      `<td>Bearer tok/en+abc&lt;d&gt;&amp;e&#x27;f&quot;g==</td>`, // Python html.escape
      `<td>Bearer tok/en+abc&lt;d&gt;&amp;e&#39;f&#34;g==</td>`, // Go html.EscapeString
      `<td>Bearer tok/en+abc&lt;d&gt;&amp;e&apos;f&quot;g==</td>`, // XML's named entities
      `<td>Bearer tok%2fen%2babc%3cd%3e%26e%27f%22g%3d%3d</td>`, // .NET HttpUtility.UrlEncode
    ];
    for (const page of pages) expect(redact(page, forms), page).toBe(`<td>Bearer [redacted]</td>`);
  });

  it("finds a credential escaped character by character however the encoder chose the characters: numeric and named references, percent-escapes that keep some, or both mixed", () => {
    const key = "sk+Live/Key=Abc123+xyz";
    const forms = redactionForms([key]);
    const echoes = [
      "sk&#43;Live/Key=Abc123&#43;xyz", // Go html/template
      "sk%2BLive/Key%3DAbc123%2Bxyz", // Python urllib.parse.quote (keeps /)
      "sk+Live%2FKey=Abc123+xyz", // Go url.PathEscape
      "sk&#43;Live&#47;Key&#61;Abc123&#43;xyz", // XML numeric references
      "sk&#x2b;Live&#x2F;Key&equals;Abc123&plus;xyz", // hex and HTML5 named references
      "sk%2BLive&#47;Key=Abc123+xyz", // both at once
    ];
    for (const echo of echoes) expect(redact(`<pre>${echo}</pre>`, forms), echo).toBe("<pre>[redacted]</pre>");

    const password = `B@sic"Pa<ss>&wörd/+=é`;
    const basic = redactionForms([password]);
    for (const echo of [
      "B@sic&quot;Pa&lt;ss&gt;&amp;w&ouml;rd/+=&eacute;", // PHP htmlentities, Java escapeHtml4
      "B@sic&#34;Pa&#60;ss&#62;&#38;w&#246;rd/+=&#233;",
      "B@sic&#x22;Pa&#x3C;ss&#x3E;&#x26;w&#xF6;rd/+=&#xE9;",
      "B%40sic%22Pa%3Css%3E%26w%c3%b6rd/+=%C3%A9",
    ]) {
      expect(redact(`[${echo}]`, basic), echo).toBe("[[redacted]]");
    }
    // Text around an escaped echo is kept as written, escapes included; escapes that are not UTF-8 stay as they were.
    expect(redact("a&amp;b %ff%fe sk&#43;Live/Key=Abc123&#43;xyz &lt;c&gt;", forms)).toBe("a&amp;b %ff%fe [redacted] &lt;c&gt;");
    // A body cut at the cap never ends inside an escaped echo.
    const body = `head ${"sk&#43;Live/Key=Abc123&#43;xyz"} tail`;
    expect(safeCut(body, 12, forms)).toBe("head ");
  });

  it("finds a credential base64-encoded inside a longer value, whatever its alignment, in base64 and base64url", () => {
    const key = "k3y_AbCdEfGh-0123456789?>~";
    const forms = redactionForms([key]);
    for (const prefix of ["", "a", "ab", "abc", "X-Api-Key: "]) {
      for (const suffix of ["", "!", "; more"]) {
        const whole = Buffer.from(`${prefix}${key}${suffix}`);
        for (const encoded of [whole.toString("base64"), whole.toString("base64url")]) {
          const out = redact(`token=${encoded}`, forms);
          expect(out, `${prefix}|${suffix}`).toContain("[redacted]");
          // What is left of the encoding carries at most a few bits of the key's first and last bytes.
          expect(out.replace("token=", "").replace("[redacted]", "").length, `${prefix}|${suffix}`).toBeLessThanOrEqual(Math.ceil(((prefix.length + suffix.length) * 4) / 3) + 8);
        }
      }
    }
    // Another value's encoding is left alone.
    const other = Buffer.from("X-Api-Key: something-else-entirely").toString("base64");
    expect(redact(other, forms)).toBe(other);
  });
});

describe("redaction of echoes an API transforms", () => {
  const token = "BearerTok-4444dddd-SecretValue";
  const forms = redactionForms([token]);

  it("finds a credential in any letter case, and overlapping matches as one span", () => {
    for (const echo of [`BEARER ${token.toUpperCase()}`, `bearer ${token.toLowerCase()}`, `Bearer ${token}`]) expect(redact(echo, forms), echo).toMatch(/^bearer \[redacted\]$/i);
    expect(redact(`x${token}${token.toLowerCase()}y`, forms)).toBe("x[redacted][redacted]y");
    // Two values where one's end is the other's start: one span, nothing of either left.
    expect(redact("xabcd-1234-efghy", redactionForms(["abcd-1234", "1234-efgh"]))).toBe("x[redacted]y");
    // Folding keeps every other character in place, also beside one whose lower case is longer ("İ").
    expect(redact(`İ ${token.toUpperCase()} İ`, forms)).toBe("İ [redacted] İ");
  });

  it("finds it as hex in either case, and as UTF-16 read as UTF-8", () => {
    const hex = Buffer.from(`Bearer ${token}`).toString("hex");
    for (const echo of [hex, hex.toUpperCase()]) expect(redact(echo, forms), echo).not.toMatch(new RegExp(Buffer.from(token).toString("hex"), "i"));
    for (const encoding of ["utf16le", "ucs2"] as const) {
      const text = Buffer.from(`Bearer ${token}`, encoding).toString("utf8");
      expect(redact(text, forms).replace(/\u0000/g, "")).not.toContain(token);
    }
  });

  it("reads a body by its charset or byte-order mark, so a UTF-16 or Latin-1 echo is found and shown as text", async () => {
    const utf16 = await readResponse(new Response(Buffer.from(`{"auth":"Bearer ${token}","n":"é"}`, "utf16le"), { headers: { "content-type": "application/json; charset=utf-16le" } }), forms);
    expect(utf16.body).toBe(`{"auth":"Bearer [redacted]","n":"é"}`);
    const bom = await readResponse(new Response(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`Bearer ${token}`, "utf16le")])), forms);
    expect(bom.body).toBe("Bearer [redacted]");
    const latin1 = await readResponse(new Response(Buffer.from(`café ${token}`, "latin1"), { headers: { "content-type": 'text/plain; charset="ISO-8859-1"' } }), forms);
    expect(latin1.body).toBe("café [redacted]");
    // A charset Node does not know is read as UTF-8, as one that names none.
    const unknown = await readResponse(new Response(`ok ${token}`, { headers: { "content-type": "text/plain; charset=x-latch-unknown" } }), forms);
    expect(unknown.body).toBe("ok [redacted]");
  });

  it("blanks a credential in a header's name as well as its value", async () => {
    const result = await readResponse(new Response("", { headers: { [`x-echo-${token}`]: "1", "x-echo": `Bearer ${token}` } }), forms);
    expect(result.headers).toEqual({ "x-echo-[redacted]": "1", "x-echo": "Bearer [redacted]", "content-type": "text/plain;charset=UTF-8" });
  });

  it("cuts a long body before an upper-cased credential that runs past the cap", () => {
    expect(safeCut(`abc${token.toUpperCase()}def`, 10, forms)).toBe("abc");
  });

  it("folds each character on its own: a final sigma, or an İ elsewhere in the body, hides nothing", () => {
    const greek = "ΚΛΕΙΔΙΑΣabc-1234";
    expect(redact(`x=${greek}`, redactionForms([greek]))).toBe("x=[redacted]");
    expect(redact(`x=${greek.toLowerCase()}`, redactionForms([greek]))).toBe("x=[redacted]");
    // One "İ" anywhere used to switch the whole body to A–Z folding: an upper-cased "ä" was then missed.
    expect(redact(`İ ${"pässwörd-1234".toUpperCase()}`, redactionForms(["pässwörd-1234"]))).toBe("İ [redacted]");
  });

  it("a body that holds a credential as plain text is read as UTF-8 whatever charset it claims, so no re-encoding brings it back", async () => {
    const echo = `{"headers":{"authorization":"Bearer ${token}"}}`;
    for (const init of [{ headers: { "content-type": "text/plain; charset=utf-16le" } }, {}]) {
      const bytes = init.headers ? Buffer.from(echo) : Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(echo)]);
      const result = await readResponse(new Response(bytes, init), forms);
      for (const reading of [result.body, Buffer.from(result.body, "utf16le").toString("utf8"), Buffer.from(result.body, "utf16le").toString("latin1")]) expect(caseless(reading)).not.toContain(caseless(token));
      expect(result.body).toContain("Bearer [redacted]");
    }
  });

  it("a UTF-16 body over the cap is cut where the cap falls in its bytes: never in the middle of a credential", async () => {
    // The credential straddles the byte cap, wherever the padding puts it.
    for (const shift of [-40, -11, -1, 0, 1, 7, 30]) {
      const padding = "x".repeat(MAX_BODY_BYTES / 2 - 10 + shift);
      const body = Buffer.from(`${padding}Bearer ${token} and more text after it ${"y".repeat(200_000)}`, "utf16le");
      const result = await readResponse(streamed16(body), forms);
      expect(result.truncated).toBe(true);
      for (const piece of pieces(token, 8)) expect(result.body.includes(piece), `shift ${shift}`).toBe(false);
      expect(result.body.length).toBeLessThanOrEqual(MAX_BODY_BYTES / 2);
    }
  });
});

/** UTF-16 bytes, labelled, in 16 KB chunks as a server sends them. */
function streamed16(bytes: Buffer): Response {
  let at = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(at, (at += 16 * 1024)));
      },
    }),
    { headers: { "content-type": "text/plain; charset=utf-16le" } },
  );
}

describe("path confinement", () => {
  const base = new URL("https://api.example.com/v1/");
  it("refuses control characters, which URL parsing would drop to leave a ..; segment behind", () => {
    for (const path of ["..\t;/admin/users", ".\t.;/admin", "a/..\n;/b", "..\r/x", "x\u007f"]) {
      expect(requestInputSchema.safeParse({ path }).success, JSON.stringify(path)).toBe(false);
      expect(() => resolveUnderBase(base, path), JSON.stringify(path)).toThrow(/refused/);
    }
    expect(resolveUnderBase(base, "users/42?expand=1").toString()).toBe("https://api.example.com/v1/users/42?expand=1");
  });
});
