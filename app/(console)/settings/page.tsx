import Link from "next/link";
import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { ThemeChoiceGroup } from "@/components/layout/theme-choice";
import { ChangePasswordForm } from "@/components/settings/change-password-form";
import { PageHeader } from "@/components/shared/page-header";
import { CreateTokenDialog } from "@/components/tokens/create-token-dialog";
import { TokenTable } from "@/components/tokens/token-table";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { requireUser } from "@/lib/auth/session";
import { canTenant } from "@/lib/authz";
import { listPersonalTokens, listScopeFolderOptions } from "@/lib/tokens/queries";

export const metadata = { title: "Settings" };

export default async function SettingsPage() {
  const user = await requireUser();
  const [tokens, folders] = await Promise.all([listPersonalTokens(user), listScopeFolderOptions(user, "personal")]);
  return (
    <div className="grid grid-cols-1 gap-6">
      <Breadcrumbs items={[{ label: "Settings" }]} />
      <PageHeader title="Settings" description="Your account and how Latch looks for you." />
      <Card>
        <CardHeader>
          <CardTitle>
            <h2>Account</h2>
          </CardTitle>
          <CardDescription>
            {canTenant(user, "users.manage") ? (
              <>
                Change your name or e-mail on the{" "}
                <Link href="/users" className="font-medium text-foreground underline underline-offset-4">
                  Users
                </Link>{" "}
                page.
              </>
            ) : (
              "Ask an administrator to change your name or e-mail."
            )}
          </CardDescription>
        </CardHeader>
        <CardContent>
          <dl className="grid max-w-md grid-cols-[8rem_1fr] gap-y-2 text-sm">
            <dt className="text-muted-foreground">Name</dt>
            <dd>{user.name}</dd>
            <dt className="text-muted-foreground">E-mail</dt>
            <dd>{user.email}</dd>
            <dt className="text-muted-foreground">Role</dt>
            <dd>{user.isAdmin ? "Administrator" : "Member"}</dd>
          </dl>
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>
            <h2>Password</h2>
          </CardTitle>
          <CardDescription>Changing it keeps you signed in here.</CardDescription>
        </CardHeader>
        <CardContent>
          <ChangePasswordForm />
        </CardContent>
      </Card>
      <Card id="personal-tokens">
        <CardHeader>
          <CardTitle>
            <h2>Personal access tokens</h2>
          </CardTitle>
          <CardDescription>
            For scripts and runners that call the REST API as you (<code>Authorization: Bearer lt_…</code>). A token works only in the folders you
            choose, never beyond what you can do yourself, and stops at its expiry or when you revoke it.
          </CardDescription>
          <CardAction>
            <CreateTokenDialog target={{ kind: "personal" }} folders={folders} />
          </CardAction>
        </CardHeader>
        <CardContent>
          <TokenTable
            label="Your personal access tokens"
            rows={tokens}
            empty={{
              title: "No personal access tokens",
              description: folders.length === 0 ? "You have no folder access yet, so a token would have nothing to reach." : "Create one when a script needs to call Latch as you.",
            }}
          />
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>
            <h2>Appearance</h2>
          </CardTitle>
          <CardDescription>Light, dark, or follow your system.</CardDescription>
        </CardHeader>
        <CardContent>
          <ThemeChoiceGroup />
        </CardContent>
      </Card>
    </div>
  );
}
