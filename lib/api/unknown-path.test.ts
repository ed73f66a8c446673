import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import * as unknown from "@/app/api/v1/[[...path]]/route";
import { errorBodySchema } from "./openapi";

describe("an /api/v1 address no operation has", () => {
  it("answers a JSON 404 with the API's headers and the caller's request id, whatever the method", async () => {
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const) {
      const res = unknown[method](new NextRequest("http://latch.test/api/v1/conections", { method, headers: { "x-request-id": "runner-req-0001" } }));
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("x-request-id")).toBe("runner-req-0001");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: expect.stringContaining("/api/v1/openapi.json"), requestId: "runner-req-0001" } });
    }
  });
});

describe("an /api/v1 address asked with a method it does not take", () => {
  it("answers a JSON 405 naming what it takes, with Allow and the API's headers, on every route", async () => {
    const { readdirSync } = await import("node:fs");
    const path = await import("node:path");
    const { isOperationRouteFile } = await import("@/test/api-routes");
    const { isMethodRefusal } = await import("./handler");
    const v1 = path.join(process.cwd(), "app", "api", "v1");
    const files = (readdirSync(v1, { recursive: true }) as string[]).filter(isOperationRouteFile);
    expect(files.length).toBeGreaterThan(15);
    let refusals = 0;
    for (const file of files) {
      const module = (await import(path.join(v1, file))) as Record<string, unknown>;
      const methods = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
      const served = methods.filter((m) => typeof module[m] === "function" && !isMethodRefusal(module[m]));
      const allow = [...served, ...(served.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
      // OPTIONS says the same: Next's own would list the refusals too.
      const options = await (module.OPTIONS as (r: NextRequest) => Promise<Response>)(new NextRequest("http://latch.test/api/v1/x", { method: "OPTIONS" }));
      expect(options.status, file).toBe(204);
      expect(options.headers.get("allow"), file).toBe(allow);
      for (const method of methods) {
        // Every method is either an operation or a refusal: a route file added without otherMethods fails here.
        expect(typeof module[method], `${method} ${file}`).toBe("function");
        if (served.includes(method)) continue;
        refusals++;
        const res = await (module[method] as (r: NextRequest) => Promise<Response>)(new NextRequest("http://latch.test/api/v1/x", { method, headers: { "x-request-id": "runner-req-0002" } }));
        expect(res.status, `${method} ${file}`).toBe(405);
        expect(res.headers.get("allow"), file).toBe(allow);
        expect(res.headers.get("content-type")).toBe("application/json");
        expect(res.headers.get("cache-control")).toBe("no-store");
        expect(res.headers.get("x-request-id")).toBe("runner-req-0002");
        const body: unknown = await res.json();
        expect(body).toEqual({ error: { code: "METHOD_NOT_ALLOWED", message: expect.stringContaining(served.join(" or ")), requestId: "runner-req-0002" } });
        // The documented error shape (OpenAPI's Error) holds it, code included.
        expect(errorBodySchema.safeParse(body).success, file).toBe(true);
      }
    }
    expect(refusals).toBeGreaterThan(50);
  });
});
