import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import * as unknown from "@/app/api/v1/[...path]/route";

describe("an /api/v1 address no operation has", () => {
  it("answers a JSON 404 with the API's headers and the caller's request id, whatever the method", async () => {
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const) {
      const res = await unknown[method](new NextRequest("http://latch.test/api/v1/conections", { method, headers: { "x-request-id": "runner-req-0001" } }));
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("x-request-id")).toBe("runner-req-0001");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: expect.stringContaining("/api/v1/openapi.json"), requestId: "runner-req-0001" } });
    }
  });
});
