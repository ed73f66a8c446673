import { BotIcon } from "lucide-react";
import { notFound } from "next/navigation";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { EmptyState } from "@/components/shared/empty-state";
import { PageHeader } from "@/components/shared/page-header";
import { StatusBadge } from "@/components/shared/status-badge";
import { CreateTokenDialog } from "@/components/tokens/create-token-dialog";
import { CreateServiceAccountButton, ServiceAccountActions } from "@/components/tokens/service-account-dialogs";
import { TokenTable } from "@/components/tokens/token-table";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { listActivePersonalTokens, listScopeFolderOptions, listServiceAccounts } from "@/lib/tokens/queries";
import { titleIfAllowed } from "../page-title";

export const generateMetadata = async () => titleIfAllowed(canTenant(await requireUser(), "tokens.manage"), "API tokens");

export default async function TokensPage() {
  const user = await requireUser();
  if (!canTenant(user, "tokens.manage")) notFound();
  const [accounts, personal, folders] = await Promise.all([
    listServiceAccounts(user),
    listActivePersonalTokens(user),
    listScopeFolderOptions(user, "service"),
  ]);
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "API tokens" }]} />
      <PageHeader
        title="API tokens"
        description={
          <>
            Automation runners call the REST API (<code>/api/v1</code>) with a token in the <code>Authorization: Bearer</code> header. Service
            accounts belong to no person and can do exactly what their tokens allow; people create their own tokens under Settings.
          </>
        }
        actions={accounts.length > 0 ? <CreateServiceAccountButton /> : null}
      />

      <section aria-labelledby="service-accounts-heading" className="grid min-w-0 grid-cols-1 gap-4">
        <h2 id="service-accounts-heading" className="text-lg font-semibold">
          Service accounts
        </h2>
        {accounts.length === 0 ? (
          <div className="rounded-lg border bg-card shadow-xs">
            <EmptyState
              icon={BotIcon}
              title="No service accounts yet"
              description="Create one per runner or pipeline, then give it a token scoped to the folders it works in."
              action={<CreateServiceAccountButton />}
            />
          </div>
        ) : (
          accounts.map((account) => (
            <Card key={account.id} className="min-w-0">
              <CardHeader>
                <CardTitle className="flex flex-wrap items-center gap-2">
                  <h3>{account.name}</h3>
                  {account.disabled ? <StatusBadge tone="warning">Disabled: tokens refused</StatusBadge> : null}
                </CardTitle>
                <CardDescription className="grid gap-0.5">
                  {/* Two lines: a description need not end in a full stop before "Created by". */}
                  <span>{account.description || "No description."}</span>
                  {account.createdBy ? <span>Created by {account.createdBy}.</span> : null}
                </CardDescription>
                <CardAction className="flex items-center gap-2">
                  <CreateTokenDialog
                    target={{ kind: "service", serviceAccountId: account.id, serviceAccountName: account.name }}
                    folders={folders}
                    disabled={account.disabled}
                  />
                  <ServiceAccountActions account={account} tokenCount={account.tokens.length} usableTokenCount={account.tokens.filter((t) => t.status === "active").length} />
                </CardAction>
              </CardHeader>
              <CardContent>
                <TokenTable
                  label={`Tokens of ${account.name}`}
                  rows={account.tokens}
                  empty={{ title: "No tokens yet", description: folders.length === 0 ? "Create a folder to scope tokens to it. Until then, a token can only read metrics." : "Create one to let a runner act as this account." }}
                />
              </CardContent>
            </Card>
          ))
        )}
      </section>

      <section aria-labelledby="personal-tokens-heading" className="grid min-w-0 grid-cols-1 gap-4">
        <div className="grid gap-1">
          <h2 id="personal-tokens-heading" className="text-lg font-semibold">
            Personal access tokens in use
          </h2>
          <p className="text-sm text-muted-foreground">Every person’s active tokens. Each acts as its owner and never beyond the owner’s current roles.</p>
        </div>
        <TokenTable label="Active personal access tokens" rows={personal.rows} showOwner empty={{ title: "Nobody has an active personal token" }} />
        {personal.total > personal.rows.length ? (
          <p className="text-sm text-muted-foreground">
            The newest {personal.rows.length} of {personal.total} are listed. To cut off a person&apos;s older tokens too, deactivate the person under Users.
          </p>
        ) : null}
      </section>
    </div>
  );
}
