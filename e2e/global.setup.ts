import { test as setup } from "@playwright/test";
import { E2E_ADMIN } from "../playwright.config";
import { signIn } from "./fixtures";

setup("sign in as the seeded administrator", async ({ page }) => {
  await signIn(page, E2E_ADMIN.email, E2E_ADMIN.password);
  await page.context().storageState({ path: "e2e/.auth/admin.json" });
});
