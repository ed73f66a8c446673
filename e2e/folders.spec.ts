import { expect, type Locator, type Page } from "@playwright/test";
import { E2E_ADMIN } from "../playwright.config";
import { addMember, createFolder, createUser, freshPage, holdPageRenders, holdServerActions, signIn, test, unique } from "./fixtures";

/** While its form saves, nothing closes the dialog: not Cancel, the close button, Escape or a click beside it. */
async function expectStaysOpenWhileSaving(page: Page, dialog: Locator) {
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeDisabled();
  await expect(dialog.getByRole("button", { name: "Close" })).toBeDisabled();
  await page.keyboard.press("Escape");
  await page.mouse.click(4, 4);
  await expect(dialog).toHaveAttribute("data-state", "open");
}

test("an admin builds nested folders, a Viewer sees but cannot rename, a non-member gets not found, and it is all audited", async ({
  page,
  browser,
}) => {
  test.slow(); // one long flow as three people: two users, two folders, a member, three sign-ins
  const topName = unique("Finance");
  const topId = await createFolder(page, topName);
  const childId = await createFolder(page, "Payroll", topId);

  // The breadcrumb and tree show the nesting.
  const crumbs = page.getByRole("navigation", { name: "Breadcrumb" });
  await expect(crumbs.getByRole("link", { name: topName })).toBeVisible();
  await expect(crumbs.getByText("Payroll")).toBeVisible();

  const viewer = await createUser(page);
  const outsider = await createUser(page);

  await addMember(page, topId, viewer.email, "Viewer");
  const row = page.getByRole("row", { name: new RegExp(viewer.email) });
  await expect(row.getByText("Viewer")).toBeVisible();

  // The viewer sees the folder and, by inheritance, its subfolder — but has no way to rename either.
  const viewerPage = await freshPage(browser);
  await signIn(viewerPage, viewer.email, viewer.password);
  await expect(viewerPage.getByRole("link", { name: topName }).first()).toBeVisible();
  await viewerPage.goto(`/folders/${childId}`);
  await expect(viewerPage.getByRole("heading", { level: 1, name: "Payroll" })).toBeVisible();
  await expect(viewerPage.getByRole("button", { name: "Folder actions" })).toHaveCount(0);
  await expect(viewerPage.getByRole("button", { name: "New subfolder" })).toHaveCount(0);

  // A non-member gets the not-found page, with status 404, for both folders.
  const outsiderPage = await freshPage(browser);
  await signIn(outsiderPage, outsider.email, outsider.password);
  for (const id of [topId, childId]) {
    const response = await outsiderPage.goto(`/folders/${id}`);
    expect(response?.status()).toBe(404);
    await expect(outsiderPage.getByRole("heading", { name: "Page not found" })).toBeVisible();
    // Inside the console's shell, which holds the one main region.
    await expect(outsiderPage.getByRole("main")).toHaveCount(1);
    await expect(outsiderPage.getByRole("navigation", { name: "Main" })).toBeVisible();
    await expect(outsiderPage.getByText(topName)).toHaveCount(0);
  }
  // A malformed id is just another unknown id.
  expect((await outsiderPage.goto("/folders/not-a-folder-id"))?.status()).toBe(404);

  // The admin's audit log shows each change, with who and the outcome.
  await page.goto(`/audit?q=${encodeURIComponent(topName)}`);
  const events = page.getByRole("table", { name: "Audit events" });
  await expect(events.getByRole("row", { name: /folder\.create/ })).toHaveCount(1);
  await expect(events.getByRole("row", { name: /folder\.member\.add/ })).toHaveCount(1);
  await expect(events.getByRole("row", { name: /folder\.member\.add/ })).toContainText(viewer.email);
  await page.goto(`/audit?q=Payroll`);
  await expect(page.getByRole("table", { name: "Audit events" }).getByRole("row", { name: /folder\.create/ }).first()).toContainText("Success");
});

test("rename, move and delete a folder; delete is refused while it holds a subfolder, and said so up front", async ({ page }) => {
  test.slow(); // one long flow: three folders, a rename, a move and two deletes, each through its dialog
  const aName = unique("Ops");
  const a = await createFolder(page, aName);
  const b = await createFolder(page, unique("Archive"));
  await page.goto(`/folders/${a}`);
  // A subfolder added elsewhere after this page rendered: the server refuses, inside the dialog.
  const elsewhere = await page.context().newPage();
  const child = await createFolder(elsewhere, "Runbooks", a);
  await elsewhere.close();
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Delete folder" }).click();
  await expect(page.getByRole("alertdialog").getByRole("alert")).toHaveText(`“${aName}” still contains 1 subfolder. Move or delete it first.`);
  await page.getByRole("button", { name: "Cancel" }).click();
  // Opened again, the last refusal is not waiting in it; rendered afresh, the page says it before anyone confirms.
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await expect(page.getByRole("alertdialog")).toBeVisible();
  await expect(page.getByRole("alertdialog").getByRole("alert")).toHaveCount(0);
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.reload();
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await expect(page.getByRole("alertdialog")).toContainText(`“${aName}” still contains 1 subfolder. Move or delete it first.`);
  await expect(page.getByRole("button", { name: "Delete folder" })).toBeDisabled();
  await page.getByRole("button", { name: "Cancel" }).click();

  // Empty name and duplicate sibling name are refused next to the field.
  await page.goto(`/folders/${child}`);
  // A dialog opened from the menu hands focus back to the menu's button when it closes.
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Rename" }).click();
  await expect(page.getByRole("dialog", { name: "Rename folder" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog", { name: "Rename folder" })).toBeHidden();
  await expect(page.getByRole("button", { name: "Folder actions" })).toBeFocused();

  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Rename" }).click();
  const rename = page.getByRole("dialog", { name: "Rename folder" });
  await rename.getByLabel("Folder name").fill("");
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(rename.getByRole("alert")).toHaveText("Enter a folder name.");
  await expect(rename.getByLabel("Folder name")).toHaveAttribute("aria-invalid", "true");
  // The refused field takes focus, so a keyboard user can type the fix at once.
  await expect(rename.getByLabel("Folder name")).toBeFocused();
  // Typing makes the message out of date: it goes, and comes back if the next attempt fails alike.
  await rename.getByLabel("Folder name").fill("Runbooks v2");
  await expect(rename.getByRole("alert")).toHaveCount(0);
  await expect(rename.getByLabel("Folder name")).not.toHaveAttribute("aria-invalid", "true");
  await rename.getByLabel("Folder name").fill(" ");
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(rename.getByRole("alert")).toHaveText("Enter a folder name.");
  // Cancelled, the dialog forgets the attempt: opened again, it shows the folder's name and no error.
  await rename.getByRole("button", { name: "Cancel" }).click();
  await expect(rename).toBeHidden();
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Rename" }).click();
  await expect(rename.getByLabel("Folder name")).toHaveValue("Runbooks");
  await expect(rename.getByRole("alert")).toHaveCount(0);
  await rename.getByLabel("Folder name").fill("Runbooks v2");
  // The dialog stays, busy, until the renamed folder's page has rendered: opened again any sooner, it
  // would offer the old name, and renaming from there would quietly undo this.
  const release = await holdPageRenders(page);
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(page.getByText("Folder renamed to “Runbooks v2”.")).toBeVisible();
  await expect(rename.getByRole("button", { name: "Saving…" })).toHaveAttribute("aria-busy", "true");
  await release();
  await expect(rename).toBeHidden();
  await expect(page.getByRole("heading", { level: 1, name: "Runbooks v2" })).toBeVisible();
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Rename" }).click();
  await expect(rename.getByLabel("Folder name")).toHaveValue("Runbooks v2");
  await rename.getByRole("button", { name: "Cancel" }).click();
  await expect(rename).toBeHidden();

  // Move it out, then the parent can be deleted.
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Move" }).click();
  const move = page.getByRole("dialog");
  await move.getByRole("combobox", { name: "Destination" }).click();
  await page.getByRole("option", { name: /Archive/ }).click();
  await move.getByRole("button", { name: "Move folder" }).click();
  await expect(move).toBeHidden();
  await expect(page.getByRole("navigation", { name: "Breadcrumb" })).toContainText("Archive");

  await page.goto(`/folders/${a}`);
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Delete folder" }).click();
  await expect(page).toHaveURL(/\/folders$/);
  expect((await page.goto(`/folders/${a}`))?.status()).toBe(404);
  expect((await page.goto(`/folders/${b}`))?.status()).toBe(200);
});

test("Add member does not replace a role someone already has; lowering your own role asks first", async ({ page, browser }) => {
  test.slow(); // two people, two sign-ins
  const folderId = await createFolder(page, unique("Shared"));
  const lead = await createUser(page);

  await page.goto(`/folders/${folderId}/members`);
  await page.getByRole("button", { name: "Add member" }).click();
  // The asterisk is hidden from screen readers; the field itself says it is required.
  await expect(page.getByRole("dialog", { name: "Add member" }).getByLabel("E-mail")).toHaveAttribute("aria-required", "true");
  await page.keyboard.press("Escape");
  await addMember(page, folderId, lead.email, "Folder Admin");
  // Adding them again, as Viewer, is refused in the dialog; their role stays.
  const again = await addMember(page, folderId, lead.email, "Viewer", { expectRefusal: true });
  await expect(again.getByText(`${lead.name} is already a member of this folder, as Folder Admin.`)).toBeVisible();
  await again.getByRole("button", { name: "Cancel" }).click();
  await page.reload();
  await expect(page.getByRole("row", { name: new RegExp(lead.email) }).getByText("Folder Admin")).toBeVisible();

  // The Folder Admin lowers their own role: a confirmation first; Cancel changes nothing.
  const leadPage = await freshPage(browser);
  await signIn(leadPage, lead.email, lead.password);
  await leadPage.goto(`/folders/${folderId}/members`);
  const ownActions = leadPage.getByRole("button", { name: `Actions for ${lead.name}` });
  await ownActions.click();
  // The menu shows the role held now.
  await expect(leadPage.getByRole("menuitemradio", { name: "Folder Admin" })).toHaveAttribute("aria-checked", "true");
  await expect(leadPage.getByRole("menuitemradio", { name: "Editor" })).toHaveAttribute("aria-checked", "false");
  await leadPage.getByRole("menuitemradio", { name: "Editor" }).click();
  const confirm = leadPage.getByRole("alertdialog", { name: "Make yourself Editor here?" });
  await expect(confirm).toContainText("you can no longer manage this folder’s members");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await leadPage.reload();
  await expect(leadPage.getByRole("row", { name: new RegExp(lead.email) }).getByText("Folder Admin")).toBeVisible();

  await ownActions.click();
  await leadPage.getByRole("menuitemradio", { name: "Editor" }).click();
  await confirm.getByRole("button", { name: "Change my role" }).click();
  await expect(confirm).toBeHidden();
  await expect(leadPage.getByRole("row", { name: new RegExp(lead.email) }).getByText("Editor")).toBeVisible();
  await expect(leadPage.getByRole("button", { name: "Add member" })).toHaveCount(0);
  // No row keeps an Actions menu to return to: focus moved on to a heading, not lost to the page.
  await expect.poll(() => leadPage.evaluate(() => /^H[1-6]$/.test(document.activeElement?.tagName ?? ""))).toBe(true);

  // An administrator who also holds a lower role here may still do everything, and is shown so.
  await addMember(page, folderId, E2E_ADMIN.email, "Viewer");
  await page.goto(`/folders/${folderId}`);
  await expect(page.getByText("Your access:")).toContainText("Administrator");
});

test("a confirmation sent after the session ended goes to sign-in, then back to the page; nothing was changed", async ({ browser, page }) => {
  const person = await createUser(page);
  const folderName = unique("Kept");
  const folderId = await createFolder(page, folderName);
  // Someone who may delete the folder, in a browser of their own.
  await addMember(page, folderId, person.email, "Folder Admin");

  const theirs = await freshPage(browser);
  await signIn(theirs, person.email, person.password);
  await theirs.goto(`/folders/${folderId}`);
  await theirs.getByRole("button", { name: "Folder actions" }).click();
  await theirs.getByRole("menuitem", { name: "Delete" }).click();
  // The session ends while the dialog is open (signed out elsewhere, expired).
  await theirs.context().clearCookies();
  await theirs.getByRole("button", { name: "Delete folder" }).click();
  await expect(theirs).toHaveURL(new RegExp(`/login\\?callbackUrl=${encodeURIComponent(`/folders/${folderId}`)}$`));
  await theirs.getByLabel("E-mail").fill(person.email);
  await theirs.getByLabel("Password").fill(person.password);
  await theirs.getByRole("button", { name: "Sign in" }).click();
  await expect(theirs).toHaveURL(new RegExp(`/folders/${folderId}$`));
  await expect(theirs.getByRole("heading", { level: 1, name: folderName })).toBeVisible();
  // Each folder page's title names the folder, so moving between folders is announced.
  await expect(theirs).toHaveTitle(`${folderName} · Latch`);
  await theirs.getByRole("link", { name: "Members", exact: true }).click();
  await expect(theirs).toHaveTitle(`Members · ${folderName} · Latch`);
});

test("a first subfolder made from the empty list's button leaves focus in the section, not lost to the page", async ({ page }) => {
  const parentId = await createFolder(page, unique("Empty"));
  await page.goto(`/folders/${parentId}`);
  await expect(page.getByText("No subfolders yet")).toBeVisible();
  // The empty list's own button (the header has one too).
  await page.getByRole("button", { name: "New subfolder" }).last().click();
  const dialog = page.getByRole("dialog", { name: "New subfolder" });
  const name = unique("First");
  await dialog.getByLabel("Folder name").fill(name);
  await dialog.getByRole("button", { name: "Create folder" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("link", { name })).toBeVisible();
  await expect(page.getByText("No subfolders yet")).toHaveCount(0);
  // That button went with the empty list: focus moved to the heading of its section.
  await expect(page.getByRole("heading", { name: "Subfolders" })).toBeFocused();
});

test("New subfolder cannot be closed while it saves, so its answer shows in it; cancelled, it opens blank", async ({ page }) => {
  const parentId = await createFolder(page, unique("Dialogs"));
  const takenName = unique("Taken");
  await createFolder(page, takenName, parentId);
  await page.goto(`/folders/${parentId}`);
  const open = () => page.getByRole("button", { name: "New subfolder" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New subfolder" });

  // A name typed and cancelled does not wait for the next opening.
  await open();
  await dialog.getByLabel("Folder name").fill("Abandoned");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await open();
  await expect(dialog.getByLabel("Folder name")).toHaveValue("");

  // Saving, with the answer held back: the dialog stays, and the refusal shows in it when it comes.
  const actions = await holdServerActions(page);
  await dialog.getByLabel("Folder name").fill(takenName);
  await dialog.getByRole("button", { name: "Create folder" }).click();
  await expect(dialog.getByRole("button", { name: "Saving…" })).toBeVisible();
  await expectStaysOpenWhileSaving(page, dialog);
  actions.release();
  await expect(dialog.getByRole("alert")).toContainText(`A folder named “${takenName}” already exists`);

  // Cancelled after the refusal: opened again, neither the name nor the refusal is waiting.
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await open();
  await expect(dialog.getByLabel("Folder name")).toHaveValue("");
  await expect(dialog.getByRole("alert")).toHaveCount(0);
});

test("after a move the Move dialog opens with no destination and nothing to send; after a delete, Back skips the deleted folder", async ({ page }) => {
  const home = await createFolder(page, unique("Home"));
  const destinationName = unique("Destination");
  const destination = await createFolder(page, destinationName);
  const moving = await createFolder(page, unique("Moving"), home);

  await page.goto(`/folders/${moving}`);
  const move = page.getByRole("dialog", { name: /^Move/ });
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Move" }).click();
  await expect(move.getByRole("button", { name: "Move folder" })).toBeDisabled();
  await move.getByRole("combobox", { name: "Destination" }).click();
  await page.getByRole("option", { name: destinationName }).click();
  await move.getByRole("button", { name: "Move folder" }).click();
  await expect(move).toBeHidden();
  await expect(page.getByRole("navigation", { name: "Breadcrumb" })).toContainText(destinationName);

  // Opened again, it does not offer to "move" the folder where it already is.
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Move" }).click();
  await expect(move.getByRole("combobox", { name: "Destination" })).toHaveText("Choose a destination");
  await expect(move.getByRole("button", { name: "Move folder" })).toBeDisabled();
  await move.getByRole("button", { name: "Cancel" }).click();
  await expect(move).toBeHidden();

  // Deleted, the folder's page is replaced in the history: Back goes to the page before it.
  await page.goto(`/folders/${home}`);
  await page.goto(`/folders/${moving}`);
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Delete folder" }).click();
  await expect(page).toHaveURL(new RegExp(`/folders/${destination}$`));
  await page.goBack();
  await expect(page).toHaveURL(new RegExp(`/folders/${home}$`));
  await expect(page.getByRole("heading", { name: "Page not found" })).toHaveCount(0);

  // Back while the delete runs: the person stays where Back took them, which shows the folder gone.
  const leavingName = unique("Leaving");
  await createFolder(page, leavingName);
  await page.goto(`/folders?q=${encodeURIComponent(leavingName)}`);
  await page.getByRole("link", { name: leavingName, exact: true }).first().click();
  await expect(page.getByRole("heading", { level: 1, name: leavingName })).toBeVisible();
  const actions = await holdServerActions(page);
  await page.getByRole("button", { name: "Folder actions" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Delete folder" }).click();
  await expect(page.getByRole("alertdialog").getByRole("button", { name: "Deleting…" })).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/folders\?q=/);
  actions.release();
  await expect(page.getByText(`Folder “${leavingName}” deleted.`)).toBeVisible();
  await expect(page.getByText("No folders match your search")).toBeVisible();
  await page.waitForLoadState("networkidle");
  await expect(page).toHaveURL(/\/folders\?q=/);
});

test("Add member opens blank after a cancel; removing a member hands focus to the next; removing yourself warns and leads to the folder list", async ({
  page,
  browser,
}) => {
  test.slow(); // three people added, one of them signs in
  const folderName = unique("Team");
  const folderId = await createFolder(page, folderName);
  const first = await createUser(page);
  const second = await createUser(page);
  const lead = await createUser(page);

  await page.goto(`/folders/${folderId}/members`);
  const add = page.getByRole("dialog", { name: "Add member" });
  await page.getByRole("button", { name: "Add member" }).click();
  await add.getByLabel("E-mail").fill(first.email);
  await page.keyboard.press("Escape");
  await expect(add).toBeHidden();
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(add.getByLabel("E-mail")).toHaveValue("");
  await page.keyboard.press("Escape");
  await expect(add).toBeHidden();

  await addMember(page, folderId, first.email, "Viewer");
  await addMember(page, folderId, second.email, "Viewer");
  await addMember(page, folderId, lead.email, "Folder Admin");

  // The removed row takes its Actions button, where focus went back, with it: focus goes on to
  // another member's Actions button, not to the page.
  await page.getByRole("button", { name: `Actions for ${first.name}` }).click();
  await page.getByRole("menuitem", { name: "Remove from folder" }).click();
  const removal = page.getByRole("alertdialog", { name: `Remove ${first.name}?` });
  await removal.getByRole("button", { name: "Remove", exact: true }).click();
  await expect(removal).toBeHidden();
  await expect(page.getByRole("row", { name: new RegExp(first.email) })).toHaveCount(0);
  const focused = page.locator(":focus");
  await expect(focused).toHaveAccessibleName(/^Actions for /);
  await expect(focused).not.toHaveAccessibleName(`Actions for ${first.name}`);

  // Removing yourself says what it costs, and ends on a page you can still see.
  const leadPage = await freshPage(browser);
  await signIn(leadPage, lead.email, lead.password);
  await leadPage.goto(`/folders/${folderId}/members`);
  await leadPage.getByRole("button", { name: `Actions for ${lead.name}` }).click();
  await leadPage.getByRole("menuitem", { name: "Remove from folder" }).click();
  const own = leadPage.getByRole("alertdialog", { name: "Remove yourself from this folder?" });
  await expect(own).toContainText("You will lose access to this folder");
  await own.getByRole("button", { name: "Remove me" }).click();
  await expect(leadPage).toHaveURL(/\/folders$/);
  await expect(leadPage.getByRole("heading", { level: 1, name: "Folders" })).toBeVisible();
  await expect(leadPage.getByRole("heading", { name: "Page not found" })).toHaveCount(0);
  await expect(leadPage.getByRole("main").getByRole("link", { name: folderName })).toHaveCount(0);
});

test("a Folder Admin with nowhere to move a subfolder is told so, rather than shown an empty list", async ({ page, browser }) => {
  const team = await createFolder(page, unique("Team"));
  const only = await createFolder(page, unique("Only child"), team);
  const lead = await createUser(page);
  await addMember(page, team, lead.email, "Folder Admin");
  const leadPage = await freshPage(browser);
  await signIn(leadPage, lead.email, lead.password);
  await leadPage.goto(`/folders/${only}`);
  await leadPage.getByRole("button", { name: "Folder actions" }).click();
  await leadPage.getByRole("menuitem", { name: "Move" }).click();
  const move = leadPage.getByRole("dialog", { name: /^Move/ });
  await expect(move).toContainText("There is nowhere you may move it");
  await expect(move.getByRole("combobox", { name: "Destination" })).toBeDisabled();
  await expect(move.getByRole("button", { name: "Move folder" })).toBeDisabled();
  await leadPage.context().close();
});
