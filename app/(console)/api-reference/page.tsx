import Link from "next/link";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { ApiReferenceViewer } from "@/components/api-reference/api-reference-viewer";
import { PageHeader } from "@/components/shared/page-header";
import { Button } from "@/components/ui/button";
import { openApiDocument } from "@/app/api/v1/openapi.json/document";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";

export const metadata = { title: "API reference" };

export default async function ApiReferencePage() {
  const user = await requireUser();
  const document = openApiDocument();
  const link = "underline underline-offset-2";
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "API reference" }]} />
      <PageHeader
        title="API reference"
        description={
          <>
            The REST API under <code>/api/v1</code> for automation runners. Authenticate with an API token (<code>Authorization: Bearer lt_…</code>):{" "}
            {canTenant(user, "tokens.manage") ? (
              <>
                a runner&apos;s, from a service account under{" "}
                <Link href="/tokens" className={link}>
                  API tokens
                </Link>
                , or{" "}
              </>
            ) : null}
            your own, under{" "}
            <Link href="/settings#personal-tokens" className={link}>
              Settings
            </Link>
            . Requests tried from this page use your session.
          </>
        }
        actions={
          <Button asChild variant="outline" size="sm">
            <a href="/api/v1/openapi.json" download="latch-openapi.json">
              Download OpenAPI 3.1
            </a>
          </Button>
        }
      />
      <ApiReferenceViewer document={document as unknown as Record<string, unknown>} />
    </div>
  );
}
