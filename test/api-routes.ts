import { readdirSync } from "node:fs";
import path from "node:path";
import { isMethodRefusal } from "@/lib/api/handler";
import { HTTP_METHODS, isDocumented, type OperationSpec } from "@/lib/api/openapi";

/**
 * Every /api/v1 route and method, read from the folders under app/api/v1 (as the OpenAPI test does),
 * so a test that walks this list cannot miss a route added later.
 */
export type ApiRoute = {
  /** "POST /connections/{connectionId}/invoke" */
  name: string;
  method: string;
  /** The API path as its folders spell it ([x] → {x}). */
  apiPath: string;
  params: string[];
  /** What the route documents (defineRoute's spec): its access among the rest. */
  openapi: OperationSpec | null;
  handler: (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
};

const V1 = path.join(process.cwd(), "app", "api", "v1");

/** app/api/v1/[[...path]] answers 404 wherever no operation is (/api/v1 itself included): a route file, but not an operation. */
export const isOperationRouteFile = (file: string) => path.basename(file) === "route.ts" && !file.startsWith(`[[...path]]${path.sep}`);

export async function apiRoutes(): Promise<ApiRoute[]> {
  const files = (readdirSync(V1, { recursive: true }) as string[]).filter(isOperationRouteFile).sort();
  const routes: ApiRoute[] = [];
  for (const file of files) {
    const segments = path.dirname(file).split(path.sep).filter((s) => s && s !== ".");
    const apiPath = `/${segments.map((s) => s.replace(/^\[(.+)\]$/, "{$1}")).join("/")}`;
    const params = segments.flatMap((s) => /^\[(.+)\]$/.exec(s)?.[1] ?? []);
    const module = (await import(path.join(V1, file))) as Record<string, unknown>;
    for (const method of HTTP_METHODS) {
      const handler = module[method];
      if (typeof handler === "function" && !isMethodRefusal(handler)) routes.push({ name: `${method} ${apiPath}`, method, apiPath, params, openapi: isDocumented(handler) ? handler.openapi : null, handler: handler as ApiRoute["handler"] });
    }
  }
  return routes;
}

/** The URL path of a route with its parameters filled in. */
export const fillPath = (route: ApiRoute, params: Record<string, string>) => `/api/v1${route.apiPath.replace(/\{([^}]+)\}/g, (_, name: string) => params[name] ?? name)}`;
