import { NextRequest } from "next/server";
import { describe, expect, it, vi } from "vitest";
import { authRoute } from "./route";

// next-auth itself needs Next's request scope (cookies); e2e auth.spec signs in through the real route.
// Here it echoes what it was handed, to show the guard passes a good request on with its body intact.
vi.mock("next-auth", () => ({
  default: vi.fn(async (request: Request, context: { params: Promise<{ nextauth: string[] }> }) =>
    Response.json({ handedOver: true, path: (await context.params).nextauth, body: await request.text() }),
  ),
}));

const context = (...path: string[]) => ({ params: Promise.resolve({ nextauth: path }) });
const post = (body: string, contentType: string, headers: Record<string, string> = {}) =>
  new NextRequest("http://localhost:3000/api/auth/callback/credentials", { method: "POST", body, headers: { "content-type": contentType, ...headers } });

describe("the sign-in routes (next-auth) refuse bad bodies before next-auth reads them", () => {
  it("400 for a malformed JSON body, which next-auth alone answered with 500", async () => {
    for (const body of ["{", "{\"email\":", "not json"]) {
      const answer = await authRoute(post(body, "application/json"), context("callback", "credentials"));
      expect(answer.status).toBe(400);
      expect(await answer.json()).toEqual({ error: { code: "BAD_REQUEST", message: "The request body is not valid JSON." } });
    }
  });

  it("413 for a body over 64 KiB, declared or not", async () => {
    const big = `email=a%40b.c&password=${"x".repeat(70 * 1024)}`;
    expect((await authRoute(post(big, "application/x-www-form-urlencoded"), context("callback", "credentials"))).status).toBe(413);
    const undeclared = new NextRequest("http://localhost:3000/api/auth/callback/credentials", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
          controller.close();
        },
      }),
      duplex: "half",
    } as ConstructorParameters<typeof NextRequest>[1]);
    expect((await authRoute(undeclared, context("callback", "credentials"))).status).toBe(413);
  });

  it("400, not 413 or a server error, when the connection closes before the body has arrived", async () => {
    const cut = new NextRequest("http://localhost:3000/api/auth/callback/credentials", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("email=a%40b.c&pass"));
          setTimeout(() => controller.error(new Error("aborted")), 10);
        },
      }),
      duplex: "half",
    } as ConstructorParameters<typeof NextRequest>[1]);
    const answer = await authRoute(cut, context("callback", "credentials"));
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: { code: "BAD_REQUEST", message: expect.stringContaining("connection closed") } });
  });

  it("405, not next-auth's 500, for the credentials callback opened other than by the sign-in form's POST", async () => {
    const answer = await authRoute(new NextRequest("http://localhost:3000/api/auth/callback/credentials?error=x"), context("callback", "credentials"));
    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")).toBe("POST");
    expect(await answer.json()).toEqual({ error: { code: "METHOD_NOT_ALLOWED", message: "Sign in with the form at /login: this address takes its POST only." } });
  });

  it("hands a well-formed request to next-auth with its body intact", async () => {
    const form = "email=a%40b.c&password=x&csrfToken=t";
    const answer = await authRoute(post(form, "application/x-www-form-urlencoded"), context("callback", "credentials"));
    expect(await answer.json()).toEqual({ handedOver: true, path: ["callback", "credentials"], body: form });
    const json = await authRoute(post('{"csrfToken":"t"}', "application/json"), context("signout"));
    expect(await json.json()).toEqual({ handedOver: true, path: ["signout"], body: '{"csrfToken":"t"}' });
    const get = await authRoute(new NextRequest("http://localhost:3000/api/auth/providers"), context("providers"));
    expect(await get.json()).toMatchObject({ handedOver: true, path: ["providers"] });
  });
});
