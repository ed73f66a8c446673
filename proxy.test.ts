import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { proxy } from "./proxy";

const id = "3f2b8c1e-7d4a-4b9e-9c1f-0a2b3c4d5e6f";
const at = (path: string, method = "GET") => proxy(new NextRequest(`http://latch.test${path}`, { method }));

describe("proxy", () => {
  it("sends a page addressed with an id in capitals to its lower-case address, keeping the rest", async () => {
    const res = at(`/folders/${id.toUpperCase()}/assets?page=2`);
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe(`http://latch.test/folders/${id}/assets?page=2`);
    // Every id in the path, and HEAD like GET.
    const both = at(`/folders/${id.toUpperCase()}/x/${id.slice(0, 9)}${id.slice(9).toUpperCase()}`, "HEAD");
    expect(both.headers.get("location")).toBe(`http://latch.test/folders/${id}/x/${id}`);
  });

  it("leaves canonical pages, non-id capitals, other methods and the API alone", async () => {
    for (const [path, method] of [
      [`/folders/${id}`, "GET"],
      ["/Folders/ABC", "GET"],
      [`/folders/${id.toUpperCase()}x`, "GET"],
      [`/folders/${id.toUpperCase()}`, "POST"],
      [`/api/auth/${id.toUpperCase()}`, "GET"],
    ] as const) {
      const res = at(path, method);
      expect(res.status, `${method} ${path}`).toBe(200);
      expect(res.headers.get("location"), path).toBeNull();
      expect(res.headers.get("x-request-id"), path).toBeTruthy();
    }
  });
});
